// WinDivert's filter language compiled and evaluated (the fields and
// values: windivert_filter_fields.cpp).

#include "tests/support/windivert_filter.hpp"

#include <cctype>
#include <cstring>
#include <functional>
#include <tuple>

#include "tests/support/windivert_filter_fields.hpp"

namespace drover::test::windivert_filter {

using namespace detail;

std::array<uint8_t, 16> mapped(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

// -- the tree -----------------------------------------------------------------

struct node {
  enum kind { constant, test, negate, both, either, choose } k = constant;
  bool truth = false;            // constant
  const field_spec* f = nullptr; // test
  int64_t index = 0;
  enum op { none, eq, ne, lt, le, gt, ge } o = none;
  value operand = 0;
  std::unique_ptr<node> a, b, c;
};

namespace {

struct parser {
  std::string_view text;
  layer l = layer::network;
  size_t at = 0;
  size_t tests = 0;
  std::string error;
  size_t error_at = 0;
  int depth = 0;

  bool fail(const char* what, size_t where) {
    if (error.empty()) {
      error = what;
      error_at = where;
    }
    return false;
  }

  void skip_space() {
    while (at < text.size()
           && std::isspace(static_cast<unsigned char>(text[at])))
      ++at;
  }

  // The next token (not consumed): a word, a value, or an operator.
  std::string_view peek() {
    skip_space();
    if (at >= text.size())
      return {};
    size_t i = at;
    char c = text[i];
    auto word = [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'
             || ch == '.' || ch == ':';
    };
    if (word(c)) {
      while (i < text.size() && word(text[i]))
        ++i;
    } else if (i + 1 < text.size()
               && ((c == '&' && text[i + 1] == '&')
                   || (c == '|' && text[i + 1] == '|')
                   || ((c == '=' || c == '!' || c == '<' || c == '>')
                       && text[i + 1] == '='))) {
      i += 2;
    } else {
      ++i;
    }
    return text.substr(at, i - at);
  }

  std::string_view take() {
    auto t = peek();
    at += t.size();
    return t;
  }

  bool too_long(std::string_view t) {
    return t.size() > max_token_length && fail("too long", at);
  }

  std::unique_ptr<node> expression() {
    if (++depth > 1024) {
      fail("too deep", at);
      return nullptr;
    }
    auto cond = disjunction();
    if (cond && peek() == "?") {
      take();
      auto yes_branch = expression();
      if (!yes_branch)
        return nullptr;
      if (take() != ":") {
        fail("parse error", at);
        return nullptr;
      }
      auto no_branch = expression();
      if (!no_branch)
        return nullptr;
      auto n = std::make_unique<node>();
      n->k = node::choose;
      n->a = std::move(cond);
      n->b = std::move(yes_branch);
      n->c = std::move(no_branch);
      cond = std::move(n);
    }
    --depth;
    return cond;
  }

  std::unique_ptr<node> disjunction() {
    auto left = conjunction();
    while (left && (peek() == "or" || peek() == "||")) {
      take();
      auto right = conjunction();
      if (!right)
        return nullptr;
      auto n = std::make_unique<node>();
      n->k = node::either;
      n->a = std::move(left);
      n->b = std::move(right);
      left = std::move(n);
    }
    return left;
  }

  std::unique_ptr<node> conjunction() {
    auto left = unary();
    while (left && (peek() == "and" || peek() == "&&")) {
      take();
      auto right = unary();
      if (!right)
        return nullptr;
      auto n = std::make_unique<node>();
      n->k = node::both;
      n->a = std::move(left);
      n->b = std::move(right);
      left = std::move(n);
    }
    return left;
  }

  std::unique_ptr<node> unary() {
    auto t = peek();
    if (t == "not" || t == "!") {
      take();
      if (++depth > 1024) {
        fail("too deep", at);
        return nullptr;
      }
      auto inner = unary();
      --depth;
      if (!inner)
        return nullptr;
      auto n = std::make_unique<node>();
      n->k = node::negate;
      n->a = std::move(inner);
      return n;
    }
    if (t == "(") {
      take();
      auto inner = expression();
      if (!inner)
        return nullptr;
      if (take() != ")") {
        fail("parse error", at);
        return nullptr;
      }
      return inner;
    }
    return test();
  }

  std::unique_ptr<node> test() {
    size_t start = (skip_space(), at);
    auto name = take();
    if (name.empty()) {
      fail("parse error", start);
      return nullptr;
    }
    if (too_long(name))
      return nullptr;
    auto n = std::make_unique<node>();
    if (name == "true" || name == "false") {
      n->k = node::constant;
      n->truth = name == "true";
      ++tests;
      return n;
    }
    const field_spec* f = nullptr;
    for (auto& spec : fields())
      if (name == spec.name)
        f = &spec;
    if (f == nullptr) {
      fail("bad token", start);
      return nullptr;
    }
    if ((f->layers & bit(l)) == 0) {
      fail("bad token for layer", start);
      return nullptr;
    }
    n->k = node::test;
    n->f = f;
    if (f->indexed) {
      if (take() != "[") {
        fail("parse error", at);
        return nullptr;
      }
      skip_space();
      bool negative = at < text.size() && text[at] == '-';
      if (negative)
        ++at;
      auto i = number(take());
      if (!i || *i > 0xffff || take() != "]") {
        fail("parse error", at);
        return nullptr;
      }
      n->index
          = negative ? -static_cast<int64_t>(*i) : static_cast<int64_t>(*i);
    }
    ++tests;
    static const std::pair<const char*, node::op> ops[] = {
        {"==", node::eq}, {"=", node::eq}, {"!=", node::ne}, {"<=", node::le},
        {">=", node::ge}, {"<", node::lt}, {">", node::gt}};
    auto o = peek();
    for (auto& [text_op, op] : ops) {
      if (o != text_op)
        continue;
      take();
      size_t value_at = (skip_space(), at);
      auto v = take();
      if (too_long(v))
        return nullptr;
      std::optional<value> parsed = number(v);
      if (!parsed)
        parsed = ipv4(v);
      if (!parsed && v.find(':') != std::string_view::npos)
        parsed = ipv6(v);
      if (!parsed)
        parsed = symbol(v);
      if (!parsed) {
        fail("bad token", value_at);
        return nullptr;
      }
      n->o = op;
      n->operand = *parsed;
      return n;
    }
    return n;
  }
};

bool compare(node::op o, value field, value operand) {
  switch (o) {
    case node::eq:
      return field == operand;
    case node::ne:
      return field != operand;
    case node::lt:
      return field < operand;
    case node::le:
      return field <= operand;
    case node::gt:
      return field > operand;
    case node::ge:
      return field >= operand;
    case node::none:
      return field != 0;
  }
  return false;
}

template<class Read>
bool evaluate(const node& n, const Read& read) {
  switch (n.k) {
    case node::constant:
      return n.truth;
    case node::negate:
      return !evaluate(*n.a, read);
    case node::both:
      return evaluate(*n.a, read) && evaluate(*n.b, read);
    case node::either:
      return evaluate(*n.a, read) || evaluate(*n.b, read);
    case node::choose:
      return evaluate(*n.a, read) ? evaluate(*n.b, read) : evaluate(*n.c, read);
    case node::test: {
      // A field the packet does not have fails its test (the reference:
      // "tcp.DstPort == 80" is false for a UDP packet).
      auto v = read(n);
      return v && compare(n.o, *v, n.operand);
    }
  }
  return false;
}

} // namespace

std::optional<filter> filter::compile(std::string_view text, layer l,
                                      std::string& error, size_t& error_at) {
  parser p;
  p.text = text;
  p.l = l;
  auto root = p.expression();
  if (root && !p.peek().empty())
    p.fail("parse error", p.at);
  if (root && p.error.empty() && p.tests > max_tests)
    p.fail("too long", text.size());
  if (!p.error.empty() || !root) {
    error = p.error.empty() ? "parse error" : p.error;
    error_at = p.error_at;
    return std::nullopt;
  }
  filter f;
  f.root_ = std::move(root);
  f.tests_ = p.tests;
  return f;
}

bool filter::matches(const packet_context& c) const {
  auto d = decode(c.packet);
  return evaluate(*root_, [&](const node& n) -> std::optional<value> {
    if (!n.f->on_packet)
      return std::nullopt;
    return n.f->on_packet(d, c, n.index);
  });
}

bool filter::matches(const socket_context& s) const {
  return evaluate(*root_, [&](const node& n) -> std::optional<value> {
    if (!n.f->on_socket)
      return std::nullopt;
    return n.f->on_socket(s);
  });
}

filter::filter(filter&&) noexcept = default;
filter& filter::operator=(filter&&) noexcept = default;
filter::~filter() = default;

} // namespace drover::test::windivert_filter
