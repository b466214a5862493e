#pragma once

// Column widths for the window's lists: each column as wide as its widest
// text (or header) plus a gap of two average characters, the last one
// stretched. Qt's ResizeToContents leaves no gap, so a long name touches
// the next column's text (seen under wine's fonts).

#include <QHeaderView>

namespace drover::tray {

/// Call once, when the view is made, with its (horizontal) header.
inline void fit_columns_by_hand(QHeaderView* header) {
  header->setSectionResizeMode(QHeaderView::Interactive);
  header->setStretchLastSection(true);
}

/// Call after the rows changed.
template<class View>
void fit_columns(View* view, int columns) {
  auto gap = 2 * view->fontMetrics().averageCharWidth();
  for (int c = 0; c + 1 < columns; ++c) {
    if (view->isColumnHidden(c))
      continue;
    view->resizeColumnToContents(c);
    view->setColumnWidth(c, view->columnWidth(c) + gap);
  }
}

} // namespace drover::tray
