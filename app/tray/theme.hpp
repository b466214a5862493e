#pragma once

// The window's look: `ui.theme` (dark, light, auto) and the platform's
// font. Dark is Qt's Fusion style with a dark palette (the native Windows
// style draws no dark palette); light is the platform's own style and
// palette; auto follows the system (Windows: "Choose your app mode";
// elsewhere the desktop's palette as Qt found it).

#include <QApplication>

#include "config/settings.hpp"

namespace drover::tray {

/// Applies `theme` to the whole application; the first call remembers
/// the style and palette Qt started with, which light and auto go back to.
void apply_theme(QApplication& app, config::ui_theme theme);

/// Whether the theme in force is dark (what apply_theme chose for auto).
bool dark_theme_in_force(const QApplication& app);

/// Windows: one font at 9 points for every widget (Qt 5 mixes the system's
/// message font, Tahoma under wine, with others): Segoe UI when the
/// system has it.
/// Elsewhere the desktop's font, as Qt found it: nothing to do.
void apply_platform_font(QApplication& app);

} // namespace drover::tray
