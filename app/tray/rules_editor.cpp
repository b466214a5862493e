#include "app/tray/rules_editor.hpp"

#include <QFormLayout>
#include <QHBoxLayout>
#include <QVBoxLayout>

#include <algorithm>

#include "app/tray/rules_text.hpp"

namespace drover::tray {

namespace {

constexpr config::rule_action rule_actions[]
    = {config::rule_action::proxy, config::rule_action::direct,
       config::rule_action::block};

int index_of(config::rule_action a) {
  for (int i = 0; i < 3; ++i)
    if (rule_actions[i] == a)
      return i;
  return 0;
}

} // namespace

rules_editor::rules_editor(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  auto* top = new QHBoxLayout;
  list_ = new QListWidget;
  list_->setObjectName("rules");
  list_->setMaximumHeight(110);
  top->addWidget(list_, 1);
  auto* side = new QVBoxLayout;
  add_ = new QPushButton(tr("Add"));
  add_->setObjectName("rule_add");
  remove_ = new QPushButton(tr("Remove"));
  remove_->setObjectName("rule_remove");
  up_ = new QPushButton(tr("Up"));
  up_->setObjectName("rule_up");
  down_ = new QPushButton(tr("Down"));
  down_->setObjectName("rule_down");
  for (auto* b : {add_, remove_, up_, down_})
    side->addWidget(b);
  side->addStretch();
  top->addLayout(side);
  layout->addLayout(top);

  auto* form = new QFormLayout;
  name_ = new QLineEdit;
  name_->setObjectName("rule_name");
  name_->setPlaceholderText(tr("A name for the list and the log"));
  programs_ = new QPlainTextEdit;
  programs_->setObjectName("target_processes");
  programs_->setPlaceholderText(
      tr("One per line: a program (Discord.exe, Disc*), a full path, or a "
         "folder ending in \\ or /"));
  programs_->setMaximumHeight(90);
  children_ = new QCheckBox(tr("Also the programs they start"));
  children_->setObjectName("rule_children");
  action_ = new QComboBox;
  action_->setObjectName("rule_action");
  action_->addItem(tr("Through the proxy"));
  action_->addItem(tr("Direct (not proxied)"));
  action_->addItem(tr("Blocked"));
  form->addRow(tr("Name"), name_);
  form->addRow(tr("Programs"), programs_);
  form->addRow(QString{}, children_);
  proxy_ = new QComboBox;
  proxy_->setObjectName("rule_proxy");
  form->addRow(tr("Their traffic"), action_);
  proxy_label_ = new QLabel(tr("Through"));
  form->addRow(proxy_label_, proxy_);
  proxy_->hide(); // shown with several proxies
  proxy_label_->hide();
  layout->addLayout(form);

  connect(list_, &QListWidget::currentRowChanged, this, [this](int row) {
    if (filling_)
      return;
    take_form();
    show_rule(row);
  });
  connect(add_, &QPushButton::clicked, this, [this] {
    take_form();
    config::app_rule r;
    r.name = tr("New rule").toStdString();
    rules_.push_back(r);
    refresh_list();
    show_rule(static_cast<int>(rules_.size()) - 1);
    programs_->setFocus();
  });
  connect(remove_, &QPushButton::clicked, this, [this] {
    if (current_ < 0)
      return;
    rules_.erase(rules_.begin() + current_);
    int next = std::min(current_, static_cast<int>(rules_.size()) - 1);
    current_ = -1;
    refresh_list();
    show_rule(next);
  });
  connect(up_, &QPushButton::clicked, this, [this] { move(-1); });
  connect(down_, &QPushButton::clicked, this, [this] { move(+1); });
  // The list's line follows the form as it is edited.
  auto edited = [this] {
    if (filling_ || current_ < 0)
      return;
    take_form();
    refresh_list();
  };
  connect(name_, &QLineEdit::textEdited, this, edited);
  connect(children_, &QCheckBox::toggled, this, edited);
  connect(action_, qOverload<int>(&QComboBox::currentIndexChanged), this,
          edited);
  connect(proxy_, qOverload<int>(&QComboBox::currentIndexChanged), this,
          edited);
  connect(action_, qOverload<int>(&QComboBox::currentIndexChanged), this,
          [this](int index) {
            proxy_->setEnabled(current_ >= 0 && index == 0); // "through"
          });
  sync_buttons();
}

void rules_editor::set_rules(std::vector<config::app_rule> rules) {
  rules_ = std::move(rules);
  current_ = -1;
  refresh_list();
  show_rule(rules_.empty() ? -1 : 0);
}

std::vector<config::app_rule> rules_editor::rules() {
  take_form();
  return rules_;
}

void rules_editor::focus_rule(int index) {
  take_form();
  show_rule(index);
  programs_->setFocus();
}

void rules_editor::take_form() {
  if (current_ < 0 || current_ >= static_cast<int>(rules_.size()))
    return;
  auto& r = rules_[static_cast<size_t>(current_)];
  r.name = name_->text().trimmed().toStdString();
  read_programs(programs_->toPlainText().toStdString(), r);
  r.children = children_->isChecked();
  r.action = rule_actions[std::max(0, action_->currentIndex())];
  // The first proxy is the default: no `proxy` key then.
  auto chosen = proxy_->currentIndex();
  r.proxy = chosen > 0 && static_cast<size_t>(chosen) < proxy_names_.size()
                ? proxy_names_[static_cast<size_t>(chosen)]
                : std::string{};
}

void rules_editor::rename_proxy(const std::string& from,
                                const std::string& to) {
  take_form();
  for (auto& r : rules_)
    if (!from.empty() && r.proxy == from)
      r.proxy = to;
}

void rules_editor::set_proxy_names(const std::vector<std::string>& names) {
  take_form();
  proxy_names_ = names;
  for (auto& r : rules_)
    if (std::find(names.begin() + (names.empty() ? 0 : 1), names.end(), r.proxy)
        == names.end())
      r.proxy.clear(); // gone (or the first): through the first
  show_rule(current_);
}

void rules_editor::show_rule(int index) {
  filling_ = true;
  current_ = index >= 0 && index < static_cast<int>(rules_.size()) ? index : -1;
  bool any = current_ >= 0;
  config::app_rule shown
      = any ? rules_[static_cast<size_t>(current_)] : config::app_rule{};
  name_->setText(QString::fromStdString(shown.name));
  programs_->setPlainText(QString::fromStdString(programs_text(shown)));
  children_->setChecked(shown.children);
  action_->setCurrentIndex(index_of(shown.action));
  proxy_->clear();
  for (size_t i = 0; i < proxy_names_.size(); ++i) {
    auto name = QString::fromStdString(proxy_names_[i]);
    proxy_->addItem(i == 0 ? tr("%1 (the first proxy)")
                                 .arg(name.isEmpty() ? tr("the proxy") : name)
                           : name);
  }
  int chosen = 0;
  for (size_t i = 1; i < proxy_names_.size(); ++i)
    if (!shown.proxy.empty() && proxy_names_[i] == shown.proxy)
      chosen = static_cast<int>(i);
  proxy_->setCurrentIndex(chosen);
  for (QWidget* w :
       std::initializer_list<QWidget*>{name_, programs_, children_, action_})
    w->setEnabled(any);
  // Only with several proxies, for a rule that proxies.
  proxy_->setEnabled(any && shown.action == config::rule_action::proxy);
  proxy_->setVisible(proxy_names_.size() > 1);
  proxy_label_->setVisible(proxy_names_.size() > 1);
  list_->setCurrentRow(current_);
  filling_ = false;
  sync_buttons();
}

void rules_editor::refresh_list() {
  filling_ = true;
  list_->clear();
  for (size_t i = 0; i < rules_.size(); ++i)
    list_->addItem(
        QString::fromStdString(rule_summary(rules_[i], static_cast<int>(i))));
  list_->setCurrentRow(current_);
  filling_ = false;
  sync_buttons();
}

void rules_editor::move(int by) {
  take_form();
  int to = current_ + by;
  if (current_ < 0 || to < 0 || to >= static_cast<int>(rules_.size()))
    return;
  std::swap(rules_[static_cast<size_t>(current_)],
            rules_[static_cast<size_t>(to)]);
  current_ = to;
  refresh_list();
  show_rule(to);
}

void rules_editor::sync_buttons() {
  int n = static_cast<int>(rules_.size());
  remove_->setEnabled(current_ >= 0);
  up_->setEnabled(current_ > 0);
  down_->setEnabled(current_ >= 0 && current_ + 1 < n);
  add_->setEnabled(n < static_cast<int>(config::max_rules));
}

} // namespace drover::tray
