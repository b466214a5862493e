#include "app/tray/settings_page.hpp"

#include <QFormLayout>
#include <QHBoxLayout>
#include <QVBoxLayout>

#include "config/config_file.hpp"
#include "config/parse.hpp"

namespace drover::tray {

namespace {

constexpr config::log_level levels[] = {
    config::log_level::error, config::log_level::warn,  config::log_level::info,
    config::log_level::debug, config::log_level::trace,
};

// "rule[3].apps[0]" → 3; -1 for another key.
int rule_index(const std::string& key) {
  if (key.rfind("rule[", 0) != 0)
    return -1;
  auto end = key.find(']');
  if (end == std::string::npos)
    return -1;
  try {
    return std::stoi(key.substr(5, end - 5));
  } catch (...) {
    return -1;
  }
}

// "proxy.host" → 0, "proxy[2].port" → 2; -1 for another key.
int proxy_index_of(const std::string& key) {
  if (key.rfind("proxy.", 0) == 0)
    return 0;
  if (key.rfind("proxy[", 0) != 0)
    return -1;
  auto end = key.find(']');
  if (end == std::string::npos || key.find('.', end) == std::string::npos)
    return -1;
  try {
    return std::stoi(key.substr(6, end - 6));
  } catch (...) {
    return -1;
  }
}

} // namespace

settings_page::settings_page(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* form = new QFormLayout;
  proxy_choice_ = new QComboBox;
  proxy_choice_->setObjectName("proxy_choice");
  add_proxy_ = new QPushButton(tr("Add a proxy"));
  add_proxy_->setObjectName("proxy_add");
  remove_proxy_ = new QPushButton(tr("Remove"));
  remove_proxy_->setObjectName("proxy_remove");
  test_proxy_ = new QPushButton(tr("Check it"));
  test_proxy_->setObjectName("proxy_test");
  test_proxy_->setToolTip(tr("Runs the check on this proxy as saved"));
  auto* choice_row = new QHBoxLayout;
  choice_row->addWidget(proxy_choice_, 1);
  choice_row->addWidget(add_proxy_);
  choice_row->addWidget(remove_proxy_);
  choice_row->addWidget(test_proxy_);
  name_ = new QLineEdit;
  name_->setObjectName("proxy_name");
  name_->setPlaceholderText(tr("A name rules choose it by (with several)"));
  host_ = new QLineEdit;
  host_->setObjectName("proxy_host");
  host_->setPlaceholderText(tr("proxy.example.net or 192.0.2.10"));
  port_ = new QSpinBox;
  port_->setObjectName("proxy_port");
  port_->setRange(1, 65535);
  type_ = new QComboBox;
  type_->setObjectName("proxy_type");
  type_->addItem(tr("SOCKS5"));
  type_->addItem(tr("HTTP (CONNECT; TCP only, no voice)"));
  auth_ = new QCheckBox(tr("The proxy wants a login"));
  auth_->setObjectName("proxy_auth");
  by_name_ = new QCheckBox(tr("Let the proxy look up the names programs "
                              "connect to (recommended)"));
  by_name_->setObjectName("proxy_connect_by_name");
  by_name_->setToolTip(tr("A wrong answer from this computer's DNS then "
                          "no longer decides where TLS and HTTP go"));
  spares_ = new QSpinBox;
  spares_->setObjectName("proxy_spare_connections");
  spares_->setRange(0, 16);
  spares_->setToolTip(
      tr("Connections to the proxy opened ahead while programs open many "
         "at once, so each new one waits less. 0 for a proxy that limits "
         "how many connections you may hold"));
  login_ = new QLineEdit;
  login_->setObjectName("proxy_login");
  password_ = new QLineEdit;
  password_->setObjectName("proxy_password");
  password_->setEchoMode(QLineEdit::Password);
  rules_ = new rules_editor;
  level_ = new QComboBox;
  level_->setObjectName("log_level");
  for (auto l : levels)
    level_->addItem(QString::fromLatin1(config::to_string(l)));
  theme_ = new QComboBox;
  theme_->setObjectName("theme");
  // In the order of config::ui_theme.
  theme_->addItems({tr("Dark"), tr("Light"), tr("As the system")});
  autostart_ = new QCheckBox(tr("Start Drover when I log in"));
  autostart_->setObjectName("autostart");
  form->addRow(tr("Proxy"), choice_row);
  form->addRow(tr("Name"), name_);
  form->addRow(tr("Proxy host"), host_);
  form->addRow(tr("Proxy port"), port_);
  form->addRow(tr("Proxy type"), type_);
  form->addRow(QString{}, auth_);
  form->addRow(tr("Login"), login_);
  form->addRow(tr("Password"), password_);
  form->addRow(QString{}, by_name_);
  form->addRow(tr("Connections kept ready"), spares_);
  form->addRow(tr("Rules\n(first match wins)"), rules_);
  form->addRow(tr("Log level"), level_);
  form->addRow(tr("Look"), theme_);
  form->addRow(QString{}, autostart_);
  layout->addLayout(form);
  message_ = new QLabel;
  message_->setObjectName("settings_message");
  message_->setWordWrap(true);
  message_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(message_);
  auto* buttons = new QHBoxLayout;
  save_ = new QPushButton(tr("Save"));
  save_->setObjectName("save_settings");
  revert_ = new QPushButton(tr("Revert"));
  buttons->addWidget(save_);
  buttons->addWidget(revert_);
  buttons->addStretch();
  layout->addLayout(buttons);
  layout->addStretch();
  connect(auth_, &QCheckBox::toggled, this,
          &settings_page::enable_dependent_fields);
  connect(type_, qOverload<int>(&QComboBox::currentIndexChanged), this,
          &settings_page::enable_dependent_fields);
  connect(save_, &QPushButton::clicked, this, &settings_page::save);
  connect(revert_, &QPushButton::clicked, this, [this] {
    fill(current_);
    message_->clear();
  });
  connect(autostart_, &QCheckBox::toggled, this,
          &settings_page::autostart_toggled);
  connect(proxy_choice_, qOverload<int>(&QComboBox::currentIndexChanged), this,
          [this](int index) {
            if (filling_proxy_ || index < 0)
              return;
            take_proxy();
            show_proxy(index);
          });
  connect(add_proxy_, &QPushButton::clicked, this, [this] {
    take_proxy();
    // With several, each needs a name: the first gets one if it has none.
    if (proxies_.size() == 1 && proxies_.front().name.empty())
      proxies_.front().name = tr("proxy 1").toStdString();
    config::proxy_settings added;
    added.name = tr("proxy %1").arg(proxies_.size() + 1).toStdString();
    added.host.clear();
    added.port = 1080;
    proxies_.push_back(added);
    refresh_proxy_choice();
    show_proxy(static_cast<int>(proxies_.size()) - 1);
    host_->setFocus();
  });
  connect(remove_proxy_, &QPushButton::clicked, this, [this] {
    if (proxies_.size() < 2)
      return;
    proxies_.erase(proxies_.begin() + shown_proxy_);
    shown_proxy_ = 0;
    refresh_proxy_choice(); // rules through it: through the first now
    show_proxy(0);
  });
  connect(test_proxy_, &QPushButton::clicked, this, [this] {
    // The saved proxy of this name (only the engine has its password).
    auto& saved = current_.proxies;
    auto shown = static_cast<size_t>(shown_proxy_);
    Q_EMIT test_requested(saved.size() > 1 && shown < proxies_.size()
                              ? QString::fromStdString(proxies_[shown].name)
                              : QString{});
  });
  connect(name_, &QLineEdit::editingFinished, this, [this] {
    if (filling_proxy_)
      return;
    auto before = proxies_[static_cast<size_t>(shown_proxy_)].name;
    take_proxy();
    rules_->rename_proxy(before,
                         proxies_[static_cast<size_t>(shown_proxy_)].name);
    refresh_proxy_choice();
  });
  fill(current_);
}

void settings_page::show_proxy(int index) {
  if (index < 0 || static_cast<size_t>(index) >= proxies_.size())
    index = 0;
  filling_proxy_ = true;
  shown_proxy_ = index;
  auto& p = proxies_[static_cast<size_t>(index)];
  proxy_choice_->setCurrentIndex(index);
  name_->setText(QString::fromStdString(p.name));
  host_->setText(QString::fromStdString(p.host));
  port_->setValue(p.port);
  type_->setCurrentIndex(p.type == config::proxy_type::http ? 1 : 0);
  auth_->setChecked(p.auth);
  by_name_->setChecked(p.connect_by_name);
  spares_->setValue(p.spare_connections);
  login_->setText(QString::fromStdString(p.login));
  password_->setText(QString::fromStdString(p.password));
  // The setters above emit nothing when a value does not change.
  enable_dependent_fields();
  remove_proxy_->setEnabled(proxies_.size() > 1);
  add_proxy_->setEnabled(proxies_.size() < config::max_proxies);
  filling_proxy_ = false;
}

// The fields that mean something only with another's value: the login with
// "needs a login"; the spares with SOCKS5 (an HTTP proxy has no greeting to
// pay ahead, so it gets none).
void settings_page::enable_dependent_fields() {
  login_->setEnabled(auth_->isChecked());
  password_->setEnabled(auth_->isChecked());
  spares_->setEnabled(type_->currentIndex() == 0);
}

void settings_page::take_proxy() {
  if (static_cast<size_t>(shown_proxy_) >= proxies_.size())
    return;
  auto& p = proxies_[static_cast<size_t>(shown_proxy_)];
  p.name = name_->text().trimmed().toStdString();
  p.host = host_->text().trimmed().toStdString();
  p.port = static_cast<uint16_t>(port_->value());
  p.type = type_->currentIndex() == 1 ? config::proxy_type::http
                                      : config::proxy_type::socks5;
  p.auth = auth_->isChecked();
  p.connect_by_name = by_name_->isChecked();
  p.spare_connections = static_cast<uint16_t>(spares_->value());
  p.login = login_->text().toStdString();
  p.password = password_->text().toStdString();
}

// The list shows each proxy's name (else host:port); the rules may choose
// among their names.
void settings_page::refresh_proxy_choice() {
  filling_proxy_ = true;
  proxy_choice_->clear();
  std::vector<std::string> names;
  for (auto& p : proxies_) {
    proxy_choice_->addItem(QString::fromStdString(config::proxy_label(p)));
    names.push_back(p.name);
  }
  proxy_choice_->setCurrentIndex(shown_proxy_);
  filling_proxy_ = false;
  rules_->set_proxy_names(names);
}

void settings_page::fill(const config::settings& s) {
  proxies_ = s.proxies;
  shown_proxy_ = 0;
  rules_->set_rules(s.rules);
  refresh_proxy_choice();
  show_proxy(0);
  int index = level_->findText(QString::fromLatin1(to_string(s.ui.level)));
  level_->setCurrentIndex(index >= 0 ? index : 2);
  theme_->setCurrentIndex(static_cast<int>(s.ui.theme));
  for (auto* w : std::initializer_list<QWidget*>{
           name_, host_, port_, login_, password_, rules_->programs_field()})
    w->setStyleSheet({});
}

void settings_page::load(const QByteArray& text, const QString& path) {
  path_ = path;
  auto parsed = config::parse(text.toStdString(), path.toStdString());
  if (!parsed.ok()) {
    Q_EMIT problem_changed(
        parsed.errors.empty()
            ? tr("The config file %1 cannot be read.").arg(path)
            : QString::fromStdString(parsed.errors.front().to_string()));
    fill(current_);
    return;
  }
  Q_EMIT problem_changed({});
  current_ = *parsed.value;
  good_ = true;
  fill(current_);
}

void settings_page::refuse(const QString& message, QWidget* field) {
  message_->setText(message);
  message_->setStyleSheet("color: #c62828;");
  if (field) {
    field->setStyleSheet("border: 1px solid #c62828;");
    field->setFocus();
  }
}

void settings_page::save() {
  for (auto* w : std::initializer_list<QWidget*>{
           name_, host_, port_, login_, password_, rules_->programs_field()})
    w->setStyleSheet({});
  auto s = current_;
  take_proxy();
  s.proxies = proxies_;
  s.rules = rules_->rules();
  s.ui.level = levels[std::max(0, level_->currentIndex())];
  s.ui.theme
      = static_cast<config::ui_theme>(std::max(0, theme_->currentIndex()));
  s.ui.auto_start = autostart_->isChecked();
  // The config's own validator decides, so the form and `drover config
  // check` give the same message for the same value.
  auto text = config::serialize(s);
  auto parsed = config::parse(text, path_.toStdString());
  if (!parsed.ok()) {
    auto& d = parsed.errors.front();
    QWidget* field = nullptr;
    // "proxy.host", or "proxy[2].host" with several: that proxy's field.
    auto proxy = proxy_index_of(d.key);
    if (proxy >= 0) {
      take_proxy();
      show_proxy(proxy);
      auto key = d.key.substr(d.key.find('.') + 1);
      for (auto [name, widget] :
           std::initializer_list<std::pair<const char*, QWidget*>>{
               {"name", name_},
               {"host", host_},
               {"port", port_},
               {"login", login_},
               {"password", password_}})
        if (key == name)
          field = widget;
    } else if (auto rule = rule_index(d.key); rule >= 0) {
      rules_->focus_rule(rule);
      field = rules_->programs_field();
    }
    // The message without the temporary text's location.
    refuse(QString::fromStdString(d.message), field);
    return;
  }
  // Saved anyway (the rule applies once the program is there), but a
  // typing mistake is said, as `drover config check` says it.
  auto missing = config::missing_programs(std::move(parsed.program_paths));
  pending_missing_ = missing.empty()
                         ? QString{}
                         : QString::fromStdString(missing.front().message);
  pending_missing_rule_ = missing.empty() ? -1 : rule_index(missing[0].key);
  message_->setText(tr("Saving…"));
  message_->setStyleSheet({});
  pending_ = s;
  Q_EMIT save_requested(QByteArray::fromStdString(text));
}

void settings_page::add_rule(const config::app_rule& rule) {
  auto rules = rules_->rules();
  rules.push_back(rule);
  rules_->set_rules(rules);
  rules_->focus_rule(static_cast<int>(rules.size()) - 1);
  save();
}

void settings_page::saved(bool ok, const QString& message) {
  if (!ok) {
    refuse(message, nullptr);
    return;
  }
  current_ = pending_;
  good_ = true;
  if (!pending_missing_.isEmpty()) {
    message_->setText(
        tr("Saved. %1 does not exist (yet): the rule applies to it once it "
           "does. Is it typed right?")
            .arg(pending_missing_));
    message_->setStyleSheet("color: #b26a00;");
    if (pending_missing_rule_ >= 0) {
      rules_->focus_rule(pending_missing_rule_);
      rules_->programs_field()->setStyleSheet("border: 1px solid #b26a00;");
    }
    return;
  }
  message_->setText(tr("Saved. Drover applies it now."));
  message_->setStyleSheet("color: #2e7d32;");
}

void settings_page::set_autostart(bool on) {
  QSignalBlocker quiet{autostart_};
  autostart_->setChecked(on);
}

} // namespace drover::tray
