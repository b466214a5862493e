#include "app/tray/apps_page.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <QApplication>
#include <QFileDialog>
#include <QFileIconProvider>
#include <QFileInfo>
#include <QHeaderView>
#include <QInputDialog>
#include <QMenu>
#include <QStyle>
#include <QVBoxLayout>

#include "actors/platform/process.hpp"
#include "app/tray/columns.hpp"
#include "app/tray/view.hpp"

namespace drover::tray {

namespace {

QString bytes_label(uint64_t n) {
  return QString::fromStdString(drover::bytes_text(n));
}

// A program's name as a user says it: without ".exe", case kept.
QString display_name(const QString& name) {
  return name.endsWith(QStringLiteral(".exe"), Qt::CaseInsensitive)
             ? name.left(name.size() - 4)
             : name;
}

// The names a rule proxies, as the Apps tab lists them: its programs,
// and its paths' file names.
std::vector<QString> names_of(const config::app_rule& r) {
  std::vector<QString> out;
  for (auto& a : r.apps)
    out.push_back(QString::fromStdString(a));
  for (auto& p : r.paths)
    out.push_back(QFileInfo(QString::fromStdString(p)).fileName());
  return out;
}

bool same_program(const QString& a, const QString& b) {
  return display_name(a).compare(display_name(b), Qt::CaseInsensitive) == 0;
}

enum column { app_column, state_column, in_column, out_column, rule_column };

} // namespace

apps_page::apps_page(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  list_ = new QTreeWidget;
  list_->setObjectName("apps");
  list_->setHeaderLabels(
      {tr("App"), tr("State"), tr("Received"), tr("Sent"), tr("Rule")});
  list_->setRootIsDecorated(false);
  list_->setIconSize({20, 20});
  fit_columns_by_hand(list_->header()); // fitted in show_apps
  layout->addWidget(list_, 1);
  empty_ = new QLabel(tr("No program is sent through the proxy yet: add one "
                         "below, or in Settings' rules."));
  empty_->setObjectName("apps_empty");
  empty_->setWordWrap(true);
  layout->addWidget(empty_);
  add_ = new QPushButton(tr("Add an app…"));
  add_->setObjectName("apps_add");
  auto* menu = new QMenu(add_);
  menu->addAction(tr("A running program…"), this, &apps_page::add_running);
  menu->addAction(tr("A program file…"), this, &apps_page::add_file);
  add_->setMenu(menu);
  layout->addWidget(add_, 0, Qt::AlignLeft);
}

config::app_rule apps_page::rule_for_program(const QString& name) {
  config::app_rule r;
  r.name = display_name(name).toStdString();
  r.apps = {name.toStdString()};
  r.action = config::rule_action::proxy;
  return r;
}

config::app_rule apps_page::rule_for_file(const QString& path) {
  config::app_rule r;
  r.name = display_name(QFileInfo(path).fileName()).toStdString();
  r.paths = {QDir::toNativeSeparators(path).toStdString()};
  r.action = config::rule_action::proxy;
  return r;
}

QStringList apps_page::running_programs(const config::settings& settings) {
  std::set<QString> taken;
  for (auto& r : settings.rules)
    if (r.action == config::rule_action::proxy)
      for (auto& n : names_of(r))
        taken.insert(display_name(n).toLower());
  std::map<QString, QString> found; // lower-case -> as the OS names it
  for (auto& p : platform::list_processes().value_or(
           std::vector<platform::process_entry>{})) {
    if (!p.served || p.pid == platform::current_process_id())
      continue;
    auto name = QString::fromStdString(p.name);
    auto key = display_name(name).toLower();
    if (!name.isEmpty() && !taken.count(key))
      found.emplace(key, name);
  }
  QStringList out;
  for (auto& [key, name] : found)
    out << name;
  return out;
}

void apps_page::add_running() {
  auto programs = running_programs(settings_);
  if (programs.isEmpty())
    return;
  bool ok = false;
  auto chosen = QInputDialog::getItem(
      this, tr("Add an app"),
      tr("Send this running program through the proxy:"), programs, 0, false,
      &ok);
  if (ok && !chosen.isEmpty())
    Q_EMIT add_requested(rule_for_program(chosen));
}

void apps_page::add_file() {
#ifdef _WIN32
  auto filter = tr("Programs (*.exe)");
#else
  auto filter = QString{};
#endif
  auto path = QFileDialog::getOpenFileName(this, tr("Add an app"), {}, filter);
  if (!path.isEmpty())
    Q_EMIT add_requested(rule_for_file(path));
}

QIcon apps_page::icon_of(uint32_t pid, const QString& name) {
  if (auto at = icons_.find(pid); at != icons_.end())
    return *at;
  // The desktop's icon for it when its theme has one by the program's
  // name (Linux), else the executable's own (Windows), else a plain one.
  QIcon icon = QIcon::fromTheme(display_name(name).toLower());
  if (icon.isNull())
    for (auto& p : platform::list_processes().value_or(
             std::vector<platform::process_entry>{}))
      if (p.pid == pid && !p.path.empty())
        icon = QFileIconProvider{}.icon(
            QFileInfo(QString::fromStdString(p.path)));
  if (icon.isNull())
    icon = QApplication::style()->standardIcon(QStyle::SP_FileIcon);
  // The cache is for the processes running now only.
  if (icons_.size() > 256)
    icons_.clear();
  icons_.insert(pid, icon);
  return icon;
}

void apps_page::show_apps(const std::vector<target_row>& targets,
                          const std::vector<flow_row>& flows,
                          const config::settings& settings) {
  settings_ = settings;
  // One row per program name: its processes, their traffic, its rule.
  struct program {
    QString name;
    QString rule;
    uint32_t first_pid = 0;
    int processes = 0;
    uint64_t in = 0, out = 0;
  };
  std::vector<program> running;
  for (auto& t : targets) {
    auto at = std::find_if(running.begin(), running.end(), [&](auto& p) {
      return same_program(p.name, t.name);
    });
    if (at == running.end()) {
      running.push_back({t.name, t.rule, t.pid, 0, 0, 0});
      at = running.end() - 1;
    }
    ++at->processes;
    for (auto& f : flows)
      if (f.pid == t.pid) {
        at->in += f.bytes_in;
        at->out += f.bytes_out;
      }
  }
  std::vector<std::pair<QString, QString>> stopped; // name, rule
  for (auto& r : settings.rules) {
    if (r.action != config::rule_action::proxy)
      continue;
    for (auto& n : names_of(r)) {
      bool runs = std::any_of(running.begin(), running.end(),
                              [&](auto& p) { return same_program(p.name, n); });
      bool listed = std::any_of(stopped.begin(), stopped.end(), [&](auto& s) {
        return same_program(s.first, n);
      });
      if (!runs && !listed)
        stopped.emplace_back(n, QString::fromStdString(r.name));
    }
  }
  auto rows = static_cast<int>(running.size() + stopped.size());
  while (list_->topLevelItemCount() > rows)
    delete list_->takeTopLevelItem(list_->topLevelItemCount() - 1);
  while (list_->topLevelItemCount() < rows)
    list_->addTopLevelItem(new QTreeWidgetItem);
  int i = 0;
  auto grey = palette().color(QPalette::Disabled, QPalette::Text);
  auto normal = palette().color(QPalette::Text);
  for (auto& p : running) {
    auto* row = list_->topLevelItem(i++);
    row->setText(app_column, display_name(p.name));
    row->setIcon(app_column, icon_of(p.first_pid, p.name));
    row->setText(state_column,
                 p.processes > 1 ? tr("running (%1 processes)").arg(p.processes)
                                 : tr("running"));
    row->setText(in_column, bytes_label(p.in));
    row->setText(out_column, bytes_label(p.out));
    row->setText(rule_column, p.rule);
    row->setData(app_column, Qt::UserRole, true);
    for (int c = 0; c < list_->columnCount(); ++c)
      row->setForeground(c, normal);
  }
  for (auto& [name, rule] : stopped) {
    auto* row = list_->topLevelItem(i++);
    row->setText(app_column, display_name(name));
    row->setIcon(app_column,
                 QIcon::fromTheme(
                     display_name(name).toLower(),
                     QApplication::style()->standardIcon(QStyle::SP_FileIcon))
                     .pixmap(20, QIcon::Disabled));
    row->setText(state_column, tr("not running"));
    row->setText(in_column, {});
    row->setText(out_column, {});
    row->setText(rule_column, rule);
    row->setData(app_column, Qt::UserRole, false);
    for (int c = 0; c < list_->columnCount(); ++c)
      row->setForeground(c, grey);
  }
  fit_columns(list_, list_->columnCount());
  empty_->setVisible(rows == 0);
  QStringList names;
  for (auto& p : running)
    names << display_name(p.name);
  names.sort();
  if (names != running_) {
    running_ = names;
    Q_EMIT running_changed(names);
  }
}

} // namespace drover::tray
