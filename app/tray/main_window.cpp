#include "app/tray/main_window.hpp"

#include <QCloseEvent>
#include <QDateTime>
#include <QDesktopServices>
#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QMessageBox>
#include <QScrollArea>
#include <QShortcut>
#include <QToolButton>
#include <QVBoxLayout>

#include "app/tray/columns.hpp"

namespace drover::tray {

namespace {

QString bytes_label(uint64_t n) {
  return QString::fromStdString(drover::bytes_text(n));
}

QString text_of(const std::string& s) {
  return QString::fromStdString(s);
}

QDateTime local_time(caf::timestamp t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                t.time_since_epoch())
                .count();
  return QDateTime::fromMSecsSinceEpoch(ms);
}

} // namespace

main_window::main_window(const QString& program, QWidget* parent)
    : QMainWindow(parent) {
  setWindowTitle(tr("Drover"));
  setObjectName("drover_window");
  auto* central = new QWidget;
  auto* layout = new QVBoxLayout(central);
  banner_ = new QLabel;
  banner_->setObjectName("config_banner");
  banner_->setWordWrap(true);
  banner_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  banner_->setStyleSheet("background: #fdecea; color: #8b1a1a; padding: 8px; "
                         "border: 1px solid #e0a0a0; border-radius: 4px;");
  banner_->hide();
  layout->addWidget(banner_);
  tabs_ = new QTabWidget;
  tabs_->setObjectName("tabs");
  layout->addWidget(tabs_);
  setCentralWidget(central);

  tabs_->addTab(make_status_page(), tr("Status"));
  apps_ = new apps_page;
  tabs_->addTab(apps_, tr("Apps"));

  timeline_ = new QTreeWidget;
  timeline_->setObjectName("timeline");
  timeline_->setHeaderLabels({tr("Time"), tr("What"), tr("Details")});
  timeline_->setRootIsDecorated(false);
  timeline_->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  timeline_->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
  tabs_->addTab(timeline_, tr("Timeline"));

  flows_ = new QTableWidget(0, 8);
  flows_->setObjectName("flows");
  flows_->setHorizontalHeaderLabels({tr("Process"), tr("Rule"), tr("Proxy"),
                                     tr("Protocol"), tr("Destination"),
                                     tr("Received"), tr("Sent"), tr("Age")});
  flows_->verticalHeader()->hide();
  flows_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  flows_->setSelectionBehavior(QAbstractItemView::SelectRows);
  fit_columns_by_hand(flows_->horizontalHeader()); // fitted in show_status
  tabs_->addTab(flows_, tr("Flows"));

  settings_ = new settings_page;
  // The form is taller than the window: it scrolls, so Save stays
  // reachable at any size.
  auto* settings_scroll = new QScrollArea;
  settings_scroll->setObjectName("settings_scroll");
  settings_scroll->setWidget(settings_);
  settings_scroll->setWidgetResizable(true);
  settings_scroll->setFrameShape(QFrame::NoFrame);
  tabs_->addTab(settings_scroll, tr("Settings"));
  settings_tab_ = settings_scroll;
  check_ = new check_page(program);
  tabs_->addTab(check_, tr("Check"));
  connect(open_settings_, &QPushButton::clicked, this,
          [this] { show_tab(settings_tab_); });
  // An app added: its rule is saved through the engine as Settings saves;
  // Settings shows it and says whether it took.
  connect(apps_, &apps_page::add_requested, this,
          [this](const config::app_rule& rule) {
            settings_->add_rule(rule);
            show_tab(settings_tab_);
          });
  connect(run_check_, &QPushButton::clicked, this, [this] {
    show_tab(check_);
    check_->start();
  });
  // Ctrl+W hides the window too, as its title bar's close button does.
  auto* close_key = new QShortcut(QKeySequence::Close, this);
  connect(close_key, &QShortcut::activated, this, &QWidget::close);
  resize(720, 460);
}

QWidget* main_window::make_status_page() {
  auto* page = new QWidget;
  auto* layout = new QVBoxLayout(page);
  auto label = [](const char* name) {
    auto* l = new QLabel;
    l->setObjectName(name);
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    l->setWordWrap(true);
    return l;
  };
  // At a glance: the state in the tray icon's colour, one sentence, and
  // what to do when something is wrong.
  state_ = label("status_state");
  state_->setWordWrap(false);
  QFont bold = state_->font();
  bold.setBold(true);
  bold.setPointSizeF(bold.pointSizeF() * 1.4);
  state_->setFont(bold);
  auto* badge_row = new QHBoxLayout;
  badge_row->addWidget(state_);
  badge_row->addStretch();
  layout->addLayout(badge_row);
  headline_ = label("status_headline");
  QFont larger = headline_->font();
  larger.setPointSizeF(larger.pointSizeF() * 1.15);
  headline_->setFont(larger);
  layout->addWidget(headline_);
  auto* actions = new QHBoxLayout;
  primary_ = new QPushButton;
  primary_->setObjectName("primary_action");
  open_settings_ = new QPushButton(tr("Open settings"));
  open_settings_->setObjectName("status_open_settings");
  run_check_ = new QPushButton(tr("Run check"));
  run_check_->setObjectName("status_run_check");
  for (auto* b : {primary_, open_settings_, run_check_})
    actions->addWidget(b);
  actions->addStretch();
  layout->addLayout(actions);
  connect(primary_, &QPushButton::clicked, this, &main_window::primary_clicked);
  chart_ = new traffic_chart;
  layout->addWidget(chart_, 1);
  // The engineering counters, folded away until asked for.
  auto* fold = new QToolButton;
  fold->setObjectName("details_toggle");
  fold->setText(tr("Details"));
  fold->setCheckable(true);
  fold->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  fold->setArrowType(Qt::RightArrow);
  fold->setAutoRaise(true);
  layout->addWidget(fold, 0, Qt::AlignLeft);
  details_ = new QWidget;
  details_->setObjectName("status_details");
  auto* form = new QFormLayout(details_);
  form->setContentsMargins(0, 0, 0, 0);
  details_->hide();
  connect(fold, &QToolButton::toggled, this, [this, fold](bool open) {
    fold->setArrowType(open ? Qt::DownArrow : Qt::RightArrow);
    details_->setVisible(open);
  });
  reason_ = label("status_reason");
  attempt_ = label("status_attempt");
  uptime_ = label("status_uptime");
  rates_ = label("status_rates");
  flows_count_ = label("status_flows");
  traffic_ = label("status_traffic");
  lifetime_ = label("status_lifetime");
  dropped_ = label("status_dropped");
  proxies_ = label("status_proxies");
  form->addRow(tr("Reason"), reason_);
  form->addRow(tr("Attempt"), attempt_);
  form->addRow(tr("Uptime"), uptime_);
  form->addRow(tr("Rates"), rates_);
  form->addRow(tr("Flows"), flows_count_);
  form->addRow(tr("Traffic"), traffic_);
  form->addRow(tr("All time"), lifetime_);
  form->addRow(tr("Dropped"), dropped_);
  // Windows: every program's packets pass through Drover, which sorts them
  // by owner; Linux's kernel does that, and the row stays hidden.
  sorted_ = label("status_sorted");
  sorted_label_ = new QLabel(tr("Sorted"));
  form->addRow(sorted_label_, sorted_);
  sorted_label_->hide();
  sorted_->hide();
  proxies_label_ = new QLabel(tr("Proxies"));
  form->addRow(proxies_label_, proxies_);
  proxies_label_->hide(); // shown with several proxies
  proxies_->hide();
  layout->addWidget(details_);
  return page;
}

void main_window::show_state(const engine_event& last,
                             const stats_snapshot& stats,
                             std::chrono::seconds uptime, const rates& r) {
  state_->setText(text_of(state_text(last, stats)));
  auto colours = badge_for(icon_for(last, stats));
  state_->setProperty("badge", QString::fromLatin1(colours.background));
  state_->setStyleSheet(QStringLiteral("QLabel { background: %1; color: %2; "
                                       "border-radius: 6px; padding: 4px "
                                       "12px; }")
                            .arg(QString::fromLatin1(colours.background),
                                 QString::fromLatin1(colours.text)));
  headline_->setText(
      text_of(headline(last, stats, subject_of(settings_->current()))));
  auto wrong = remedies_for(last, stats);
  open_settings_->setVisible(wrong.open_settings);
  run_check_->setVisible(wrong.run_check);
  reason_->setText(last.reason.empty() ? tr("—") : text_of(last.reason));
  attempt_->setText(last.attempt > 0 ? QString::number(last.attempt) : tr("—"));
  bool active = last.state == engine_state::active;
  uptime_->setText(active ? text_of(uptime_text(uptime)) : tr("—"));
  rates_->setText(
      active ? QStringLiteral("↑ %1   ↓ %2")
                   .arg(text_of(rate_text(r.out)), text_of(rate_text(r.in)))
             : tr("—"));
  flows_count_->setText(
      tr("%1 TCP, %2 UDP").arg(stats.tcp_flows).arg(stats.udp_flows));
  traffic_->setText(
      tr("↑ %1 sent, ↓ %2 received")
          .arg(bytes_label(stats.bytes_out), bytes_label(stats.bytes_in)));
}

void main_window::add_sample(const rates& r) {
  chart_->add_sample(r.in, r.out);
}

void main_window::show_status(const status_reply& s) {
  apps_->show_apps(s.targets, s.flows, settings_->current());
  lifetime_->setText(s.lifetime.since.empty()
                         ? tr("—")
                         : tr("↑ %1 sent, ↓ %2 received since %3")
                               .arg(bytes_label(s.lifetime.bytes_out),
                                    bytes_label(s.lifetime.bytes_in),
                                    text_of(s.lifetime.since)));
  // Several proxies: each one's state (one may be down while others carry
  // their programs).
  proxies_->setText(s.proxies.join(QStringLiteral("\n")));
  proxies_->setVisible(!s.proxies.isEmpty());
  proxies_label_->setVisible(!s.proxies.isEmpty());
  flows_->setColumnHidden(2, s.proxies.isEmpty()); // "Proxy": with several
  dropped_->setText(tr("%1 packets (%2 IPv6), %3 refused connections, %4 "
                       "evicted flows, %5 over the capture queue")
                        .arg(s.stats.packets_dropped)
                        .arg(s.stats.ipv6_dropped)
                        .arg(s.stats.refused_listener)
                        .arg(s.stats.flows_evicted)
                        .arg(s.stats.queue_overflows));
  auto& st = s.stats;
  bool sorting = capture_sorted_packets(st);
  sorted_->setText(sorting ? tr("%1 packets of other programs let out, %2 "
                                "waited for their owner; with no owner "
                                "found: %3 let out, %4 dropped")
                                 .arg(st.packets_passed)
                                 .arg(st.packets_held)
                                 .arg(st.packets_unowned_passed)
                                 .arg(st.packets_unowned_dropped)
                           : QString{});
  sorted_->setVisible(sorting);
  sorted_label_->setVisible(sorting);
  flows_->setRowCount(static_cast<int>(s.flows.size()));
  int row = 0;
  for (auto& f : s.flows) {
    auto cell = [&](int column, const QString& text) {
      auto* item = flows_->item(row, column);
      if (!item) {
        item = new QTableWidgetItem;
        flows_->setItem(row, column, item);
      }
      item->setText(text);
    };
    cell(0, f.process.isEmpty()
                ? tr("unknown")
                : QStringLiteral("%1 (%2)").arg(f.process).arg(f.pid));
    cell(1, f.rule);
    cell(2, f.proxy);
    cell(3, f.protocol.toUpper());
    cell(4, f.destination);
    cell(5, bytes_label(f.bytes_in));
    cell(6, bytes_label(f.bytes_out));
    cell(7, text_of(uptime_text(std::chrono::seconds{f.age_seconds})));
    ++row;
  }
  fit_columns(flows_, flows_->columnCount());
}

void main_window::add_event(const engine_event& e) {
  auto* row = new QTreeWidgetItem;
  row->setText(0, local_time(e.time).toString("yyyy-MM-dd HH:mm:ss"));
  QString what = QString::fromLatin1(label(e));
  if (!what.isEmpty())
    what[0] = what[0].toUpper();
  switch (e.kind) {
    case event_kind::restart:
      what = tr("Restart · %1").arg(what);
      break;
    case event_kind::reconnect_attempt:
      what = tr("Reconnect attempt %1").arg(e.attempt);
      break;
    default:
      break;
  }
  row->setText(1, what);
  row->setText(2, text_of(e.reason));
  // The moments the chart marks, where they happened: where a dip in the
  // traffic comes from.
  auto ago = std::chrono::duration_cast<std::chrono::seconds>(
                 caf::make_timestamp() - e.time)
                 .count();
  if (e.kind == event_kind::reconnect_attempt)
    chart_->add_marker(tr("reconnect"), ago);
  else if (e.kind == event_kind::restart)
    chart_->add_marker(tr("restart"), ago);
  else if (e.kind == event_kind::state_changed
           && e.state == engine_state::paused)
    chart_->add_marker(tr("sleep"), ago);
  row->setToolTip(2, text_of(e.reason));
  if (e.state == engine_state::failed || e.kind == event_kind::config_error)
    row->setForeground(1, QColor("#c62828"));
  timeline_->insertTopLevelItem(0, row);
  // The engine keeps its own history; the window shows the last 500.
  while (timeline_->topLevelItemCount() > 500)
    delete timeline_->takeTopLevelItem(timeline_->topLevelItemCount() - 1);
}

void main_window::clear_events() {
  timeline_->clear();
}

void main_window::set_primary(const primary_item& item, bool enabled) {
  primary_->setText(text_of(item.label));
  primary_->setEnabled(enabled);
}

void main_window::show_banner(const QString& text) {
  banner_->setText(tr("The config file has an error; Drover keeps the last "
                      "good settings until it is fixed (or saved from "
                      "Settings):\n%1")
                       .arg(text));
  banner_->setVisible(!text.isEmpty());
}

void main_window::closeEvent(QCloseEvent* event) {
  event->ignore();
  hide();
  Q_EMIT closed_to_tray();
}

void main_window::show_about(const QString& version, const QString& config_path,
                             const QString& log_path) {
  QMessageBox::about(
      this, tr("About Drover"),
      tr("<b>Drover %1</b><p>Sends the programs you choose (Discord by "
         "default) through your SOCKS5 proxy: TCP through CONNECT, UDP "
         "voice through UDP ASSOCIATE. Nothing else on this computer is "
         "touched.</p><p>Config: %2<br>Log: %3</p>")
          .arg(version, config_path.toHtmlEscaped(),
               log_path.isEmpty() ? tr("(engine not running)")
                                  : log_path.toHtmlEscaped()));
}

void main_window::show_log(const QString& log_path) {
  QFileInfo log{log_path};
  if (log.isReadable()) {
    QDesktopServices::openUrl(QUrl::fromLocalFile(log_path));
    return;
  }
  // Only the reading hint differs between the OSes.
  auto path = QDir::toNativeSeparators(log_path);
#ifdef Q_OS_WIN
  auto how = tr("administrator; open it from Notepad started with \"Run as "
                "administrator\".");
#else
  auto how = tr("root; read it with: sudo less %1").arg(path);
#endif
  QMessageBox::information(
      this, tr("Drover's log"),
      tr("The log is %1.\nIt belongs to the engine, which runs as %2")
          .arg(path, how));
}

} // namespace drover::tray
