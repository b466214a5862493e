#pragma once

// How the Settings tab shows a rule and reads it back: one program per
// line (a file name or pattern, a full path, or a folder ending in a
// slash), and a one-line summary for the list. Pure, unit-tested; the
// config's own validator then judges what was typed.

#include <string>

#include "config/settings.hpp"

namespace drover::tray {

/// `apps`, then `paths`, then `folders` (each with a trailing separator),
/// one per line.
std::string programs_text(const config::app_rule& rule);

/// Reads `text` back into `rule`'s `apps`, `paths` and `folders`: a line
/// with '/' or '\\' is a path, a folder when it ends with one; blank lines
/// are skipped, spaces around a line dropped.
void read_programs(const std::string& text, config::app_rule& rule);

/// "Discord — through the proxy", "rule 2 — blocked (and what it starts)".
std::string rule_summary(const config::app_rule& rule, int index);

/// The action as the Settings tab names it.
std::string action_text(config::rule_action action);

} // namespace drover::tray
