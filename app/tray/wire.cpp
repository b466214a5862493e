#include "app/tray/wire.hpp"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace drover::tray {

namespace {

// The enum value whose to_string() is `text`; `count` values exist.
template<class Enum>
std::optional<Enum> enum_named(const QString& text, int count) {
  for (int i = 0; i < count; ++i) {
    auto value = static_cast<Enum>(i);
    if (text == QLatin1String(to_string(value)))
      return value;
  }
  return std::nullopt;
}

caf::timestamp timestamp_of(const QString& text) {
  auto t = QDateTime::fromString(text, Qt::ISODateWithMs);
  if (!t.isValid())
    return caf::make_timestamp();
  return caf::timestamp{std::chrono::milliseconds{t.toMSecsSinceEpoch()}};
}

uint64_t number(const QJsonObject& o, const char* key) {
  auto v = o.value(QLatin1String(key)).toDouble(0);
  // (A double past 2^64 has no uint64_t: the largest, then.)
  return v >= 18446744073709551615.0 ? UINT64_MAX
         : v > 0                     ? static_cast<uint64_t>(v)
                                     : 0;
}

std::optional<engine_event> event_of(const QJsonObject& o) {
  // `status json` gives the latest state change without a kind.
  auto kind = o.contains("kind")
                  ? enum_named<event_kind>(o.value("kind").toString(), 6)
                  : std::optional<event_kind>{event_kind::state_changed};
  auto state = enum_named<engine_state>(o.value("state").toString(), 6);
  auto failure = enum_named<failure_class>(o.value("failure").toString(), 9);
  if (!kind || !state || !failure)
    return std::nullopt;
  engine_event e;
  e.kind = *kind;
  e.state = *state;
  e.failure = *failure;
  e.reason = o.value("reason").toString().toStdString();
  e.attempt = static_cast<uint32_t>(number(o, "attempt"));
  e.tcp_only = o.value("tcp_only").toBool(false);
  e.degraded = o.value("degraded").toBool(false);
  e.proxy = o.value("proxy").toString().toStdString();
  e.time = timestamp_of(o.value("time").toString());
  return e;
}

stats_snapshot stats_of(const QJsonObject& o) {
  stats_snapshot s;
  s.bytes_in = number(o, "bytes_in");
  s.bytes_out = number(o, "bytes_out");
  s.tcp_flows = static_cast<uint32_t>(number(o, "tcp_flows"));
  s.udp_flows = static_cast<uint32_t>(number(o, "udp_flows"));
  s.packets_dropped = number(o, "packets_dropped");
  s.queue_overflows = number(o, "queue_overflows");
  s.ipv6_dropped = number(o, "ipv6_dropped");
  s.refused_listener = number(o, "refused_connections");
  s.flows_evicted = number(o, "flows_evicted");
  s.packets_fenced = number(o, "packets_fenced");
  s.connections_reset = number(o, "connections_reset");
  s.packets_passed = number(o, "packets_passed");
  s.packets_held = number(o, "packets_held");
  s.packets_unowned_passed = number(o, "packets_unowned_passed");
  s.packets_unowned_dropped = number(o, "packets_unowned_dropped");
  s.no_traffic = o.value("no_traffic").toBool(false);
  return s;
}

std::optional<QJsonObject> object_of(const QByteArray& text, QString* error) {
  QJsonParseError parse_error{};
  auto doc = QJsonDocument::fromJson(text, &parse_error);
  if (!doc.isObject()) {
    if (error)
      *error = parse_error.error != QJsonParseError::NoError
                   ? parse_error.errorString()
                   : QStringLiteral("not a JSON object");
    return std::nullopt;
  }
  return doc.object();
}

} // namespace

std::optional<wire_line> parse_line(const QByteArray& line, QString* error) {
  auto o = object_of(line, error);
  if (!o)
    return std::nullopt;
  auto type = o->value("type").toString();
  wire_line out;
  if (type == "event") {
    out.event = event_of(*o);
    if (!out.event) {
      if (error)
        *error = QStringLiteral("an event with an unknown kind, state or "
                                "failure");
      return std::nullopt;
    }
    return out;
  }
  if (type == "heartbeat")
    return out; // the engine's loop is alive: nothing to show
  if (type == "stats") {
    out.stats = stats_of(*o);
    out.uptime_seconds = number(*o, "uptime_seconds");
    return out;
  }
  if (error)
    *error = QStringLiteral("unknown line type \"%1\"").arg(type);
  return std::nullopt;
}

std::optional<status_reply> parse_status(const QByteArray& json,
                                         QString* error) {
  auto o = object_of(json, error);
  if (!o)
    return std::nullopt;
  status_reply r;
  auto last = event_of(*o);
  if (!last) {
    if (error)
      *error = QStringLiteral("a status with an unknown state");
    return std::nullopt;
  }
  r.last = *last;
  r.last.time = timestamp_of(o->value("since").toString());
  r.stats = stats_of(*o);
  r.config_path = o->value("config").toString();
  r.log_path = o->value("log").toString();
  r.trace = o->value("trace").toBool(false);
  for (const auto& item : o->value("flows").toArray()) {
    auto f = item.toObject();
    flow_row row;
    row.process = f.value("process").toString();
    row.rule = f.value("rule").toString();
    row.proxy = f.value("proxy").toString();
    row.pid = static_cast<uint32_t>(number(f, "pid"));
    row.protocol = f.value("protocol").toString();
    row.destination = f.value("destination").toString();
    row.bytes_in = number(f, "bytes_in");
    row.bytes_out = number(f, "bytes_out");
    row.age_seconds = number(f, "age_seconds");
    r.flows.push_back(std::move(row));
  }
  auto lifetime = o->value("lifetime").toObject();
  r.lifetime.bytes_in = number(lifetime, "bytes_in");
  r.lifetime.bytes_out = number(lifetime, "bytes_out");
  r.lifetime.since = lifetime.value("since").toString().toStdString();
  for (const auto& item : o->value("targets").toArray()) {
    auto t = item.toObject();
    target_row row;
    row.pid = static_cast<uint32_t>(number(t, "pid"));
    row.name = t.value("name").toString();
    row.rule = t.value("rule").toString();
    if (row.pid != 0 && !row.name.isEmpty())
      r.targets.push_back(std::move(row));
  }
  auto proxies = o->value("proxies").toArray();
  if (proxies.size() > 1)
    for (const auto& item : proxies) {
      auto p = item.toObject();
      auto where = QStringLiteral("%1:%2")
                       .arg(p.value("host").toString())
                       .arg(number(p, "port"));
      auto name = p.value("name").toString();
      auto line = (name.isEmpty() ? where
                                  : QStringLiteral("%1 (%2)").arg(name, where))
                  + QStringLiteral(": ") + p.value("state").toString();
      if (p.value("tcp_only").toBool(false))
        line += QStringLiteral(", TCP only (no voice)");
      if (auto attempt = number(p, "attempt"); attempt > 0)
        line += QStringLiteral(", attempt %1").arg(attempt);
      if (auto why = p.value("reason").toString(); !why.isEmpty())
        line += QStringLiteral(" (%1)").arg(why);
      r.proxies.push_back(line);
    }
  return r;
}

} // namespace drover::tray
