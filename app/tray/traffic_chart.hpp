#pragma once

// The Status page's live traffic chart: up and down throughput for the
// last five minutes, one sample a second, with the moments the engine
// reconnected, restarted or slept marked on it. Drawn by the widget itself
// (QPainter): one chart does not justify a charting library.

#include <cstdint>
#include <deque>

#include <QString>
#include <QWidget>

namespace drover::tray {

class traffic_chart : public QWidget {
  Q_OBJECT

public:
  /// Five minutes of one-second samples.
  static constexpr int span = 300;

  explicit traffic_chart(QWidget* parent = nullptr);

  /// The rates of the last second, bytes per second (the newest sample).
  void add_sample(double in_bps, double out_bps);
  /// A moment to mark ("reconnect", "sleep"), `seconds_ago` before the
  /// newest sample; one older than the chart is not marked.
  void add_marker(const QString& label, int64_t seconds_ago = 0);
  /// Everything forgotten (the engine went away).
  void clear();

  int sample_count() const { return static_cast<int>(samples_.size()); }
  int marker_count() const { return static_cast<int>(markers_.size()); }
  /// The top of the scale, bytes per second: the largest rate shown,
  /// rounded up to 1, 2 or 5 times a power of ten.
  double scale_top() const;

  QSize sizeHint() const override { return {480, 140}; }
  QSize minimumSizeHint() const override { return {240, 100}; }

protected:
  void paintEvent(QPaintEvent* event) override;

private:
  struct sample {
    double in = 0;
    double out = 0;
  };
  struct marker {
    uint64_t at = 0; // the sample it marks, counted from the first
    QString label;
  };
  std::deque<sample> samples_;
  std::deque<marker> markers_;
  uint64_t added_ = 0; // samples ever added
};

} // namespace drover::tray
