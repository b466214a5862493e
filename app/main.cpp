#include <iostream>

#include "app/cli.hpp"

int main(int argc, char** argv) {
  return drover::cli::run(argc, argv, std::cout, std::cerr);
}
