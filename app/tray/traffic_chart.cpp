#include "app/tray/traffic_chart.hpp"

#include <algorithm>
#include <cmath>

#include <QPainter>
#include <QPainterPath>

#include "app/tray/view.hpp"

namespace drover::tray {

namespace {

// The two lines' colours, readable on light and dark backgrounds alike.
const QColor down_colour{"#1e88e5"};
const QColor up_colour{"#fb8c00"};

QString rate(double bps) {
  return QString::fromStdString(rate_text(bps));
}

} // namespace

traffic_chart::traffic_chart(QWidget* parent) : QWidget(parent) {
  setObjectName("traffic_chart");
  setAccessibleName(tr("Traffic, the last five minutes"));
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
}

void traffic_chart::add_sample(double in_bps, double out_bps) {
  samples_.push_back({std::max(in_bps, 0.0), std::max(out_bps, 0.0)});
  ++added_;
  if (samples_.size() > static_cast<size_t>(span))
    samples_.pop_front();
  // A marker whose moment scrolled out of the chart goes too.
  while (!markers_.empty() && markers_.front().at + span < added_)
    markers_.pop_front();
  update();
}

void traffic_chart::add_marker(const QString& label, int64_t seconds_ago) {
  auto ago = static_cast<uint64_t>(std::max<int64_t>(seconds_ago, 0));
  if (ago >= static_cast<uint64_t>(span))
    return;
  // Before any sample, or before the first: at the first one (to come).
  auto newest = added_ == 0 ? 0 : added_ - 1;
  marker m{newest > ago ? newest - ago : 0, label};
  // Kept in order of their moments (history arrives oldest first, but a
  // late one may not).
  auto at = std::upper_bound(
      markers_.begin(), markers_.end(), m,
      [](const marker& a, const marker& b) { return a.at < b.at; });
  markers_.insert(at, m);
  update();
}

void traffic_chart::clear() {
  samples_.clear();
  markers_.clear();
  added_ = 0;
  update();
}

double traffic_chart::scale_top() const {
  double top = 0;
  for (auto& s : samples_)
    top = std::max({top, s.in, s.out});
  if (top < 1000)
    return 1000; // at least 1 KB/s: an idle line lies flat at the bottom
  double power = std::pow(10.0, std::floor(std::log10(top)));
  for (double step : {1.0, 2.0, 5.0, 10.0})
    if (top <= step * power)
      return step * power;
  return 10 * power;
}

void traffic_chart::paintEvent(QPaintEvent*) {
  QPainter p{this};
  p.setRenderHint(QPainter::Antialiasing);
  auto text_colour = palette().color(QPalette::WindowText);
  auto grid_colour = palette().color(QPalette::Mid);
  auto metrics = fontMetrics();
  int legend = metrics.height() + 4;
  QRectF plot = QRectF(rect()).adjusted(1, legend, -1, -1);
  p.fillRect(plot, palette().color(QPalette::Base));
  p.setPen(grid_colour);
  p.drawRect(plot);
  double top = scale_top();
  // Half-way line and the scale's top, as text in the corner.
  p.setPen(QPen(grid_colour, 1, Qt::DotLine));
  p.drawLine(QPointF(plot.left(), plot.center().y()),
             QPointF(plot.right(), plot.center().y()));
  p.setPen(text_colour);
  p.drawText(QRectF(plot.left() + 4, plot.top() + 2, plot.width() - 8,
                    metrics.height()),
             Qt::AlignRight | Qt::AlignTop, rate(top));
  // The time axis, in words.
  auto faint = text_colour;
  faint.setAlpha(140);
  p.setPen(faint);
  QRectF bottom{plot.left() + 4, plot.bottom() - metrics.height() - 2,
                plot.width() - 8, static_cast<double>(metrics.height())};
  p.drawText(bottom, Qt::AlignLeft | Qt::AlignBottom, tr("5 min ago"));
  p.drawText(bottom, Qt::AlignRight | Qt::AlignBottom, tr("now"));
  // The newest sample at the right edge; older ones to the left.
  double step = plot.width() / (span - 1);
  auto x_of = [&](uint64_t index) {
    return plot.right() - static_cast<double>(added_ - 1 - index) * step;
  };
  auto y_of = [&](double v) { // zero just above the frame's bottom line
    return plot.bottom() - 2 - v / top * (plot.height() - 3);
  };
  uint64_t first = added_ - samples_.size();
  // The lines stay inside the frame (a pen's width at the bottom edge, a
  // newest sample at the right one, would be drawn over it).
  p.save();
  p.setClipRect(plot.adjusted(1, 1, -1, -1));
  for (auto& m : markers_) {
    if (samples_.empty())
      break;
    double x = x_of(m.at);
    if (x < plot.left())
      continue;
    p.setPen(QPen(text_colour, 1, Qt::DashLine));
    p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()));
    p.drawText(QPointF(x + 3, plot.bottom() - 4), m.label);
  }
  for (bool down : {true, false}) {
    if (samples_.empty())
      break;
    QPainterPath line;
    for (size_t i = 0; i < samples_.size(); ++i) {
      auto v = down ? samples_[i].in : samples_[i].out;
      QPointF at{x_of(first + i), y_of(v)};
      if (i == 0)
        line.moveTo(at);
      else
        line.lineTo(at);
    }
    p.setPen(QPen(down ? down_colour : up_colour, 1.6));
    p.drawPath(line);
  }
  p.restore();
  // The legend: the current rates in the lines' colours.
  auto now = samples_.empty() ? sample{} : samples_.back();
  p.setPen(down_colour);
  auto down_text = tr("↓ %1 received").arg(rate(now.in));
  p.drawText(QPointF(2, metrics.ascent() + 1), down_text);
  p.setPen(up_colour);
  p.drawText(QPointF(2 + metrics.horizontalAdvance(down_text) + 16,
                     metrics.ascent() + 1),
             tr("↑ %1 sent").arg(rate(now.out)));
}

} // namespace drover::tray
