#include "boardsummary.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

#include <cmath>

namespace Kennel {

namespace {

constexpr qsizetype MaxEventBytes = 16 * 1024;

// A count: a JSON number that is a whole number >= 0 (JSON has no integers of its own).
bool readCount(const QJsonObject &o, const char *key, qint64 *out, QString *error, bool required = true)
{
    const QJsonValue v = o.value(QLatin1String(key));
    if (v.isUndefined() && !required)
        return true;
    const double d = v.toDouble(-1);
    if (!v.isDouble() || d < 0 || d > 9e15 || std::floor(d) != d) {
        *error = QStringLiteral("'%1' is not a count").arg(QLatin1String(key));
        return false;
    }
    *out = qint64(d);
    return true;
}

std::optional<QJsonObject> parseObject(const QByteArray &payload, qsizetype maxBytes, QString *error)
{
    if (payload.size() > maxBytes) {
        *error = QStringLiteral("%1 bytes, over the bound of %2").arg(payload.size()).arg(maxBytes);
        return std::nullopt;
    }
    QJsonParseError parse;
    const QJsonDocument doc = QJsonDocument::fromJson(payload, &parse);
    if (parse.error != QJsonParseError::NoError) {
        *error = QStringLiteral("not JSON: %1 at offset %2").arg(parse.errorString()).arg(parse.offset);
        return std::nullopt;
    }
    if (!doc.isObject()) {
        *error = QStringLiteral("not a JSON object");
        return std::nullopt;
    }
    return doc.object();
}

} // namespace

std::optional<BoardSummary> BoardSummary::decode(const QByteArray &payload, QString *error, qsizetype maxBytes)
{
    QString why;
    const std::optional<QJsonObject> object = parseObject(payload, maxBytes, &why);
    auto refuse = [&](const QString &text) -> std::optional<BoardSummary> {
        if (error)
            *error = text;
        return std::nullopt;
    };
    if (!object)
        return refuse(why);
    const QJsonObject &o = *object;
    BoardSummary s;
    qint64 schema = 0;
    if (!readCount(o, "schema", &schema, &why))
        return refuse(why);
    if (schema < 1)
        return refuse(QStringLiteral("schema %1: the first is 1").arg(schema));
    if (!o.value(QLatin1String("board")).isString())
        return refuse(QStringLiteral("'board' is not text"));
    s.board = o.value(QLatin1String("board")).toString();
    const QJsonValue time = o.value(QLatin1String("time"));
    if (time.isString())
        s.time = QDateTime::fromString(time.toString(), Qt::ISODateWithMs);
    for (const auto &[key, field] : {std::pair{"clients", &s.clients}, {"watched", &s.watched}, {"late", &s.late},
                                     {"expiries", &s.expiries}, {"kills", &s.kills}, {"services_failed", &s.servicesFailed}})
        if (!readCount(o, key, field, &why))
            return refuse(why);
    if (!readCount(o, "restarts", &s.restarts, &why, false))
        return refuse(why);
    const QJsonValue services = o.value(QLatin1String("services"));
    if (!services.isUndefined() && !services.isArray())
        return refuse(QStringLiteral("'services' is not a list"));
    for (const QJsonValue &v : services.toArray()) {
        const QJsonObject so = v.toObject();
        if (!v.isObject() || !so.value(QLatin1String("name")).isString())
            return refuse(QStringLiteral("a service without a name"));
        Service service{so.value(QLatin1String("name")).toString(), so.value(QLatin1String("state")).toString(), 0, 0};
        if (!readCount(so, "pid", &service.pid, &why, false) || !readCount(so, "restarts", &service.restarts, &why, false))
            return refuse(QStringLiteral("service '%1': %2").arg(service.name, why));
        s.services.append(service);
    }
    const QJsonObject bridge = o.value(QLatin1String("bridge")).toObject();
    s.bridgeConnected = bridge.value(QLatin1String("connected")).toBool();
    s.spoolDepth = quint64(bridge.value(QLatin1String("spool_depth")).toDouble());
    s.spoolDropped = quint64(bridge.value(QLatin1String("spool_dropped")).toDouble());
    const QJsonObject monitor = o.value(QLatin1String("monitor")).toObject();
    s.monitorAddress = monitor.value(QLatin1String("address")).toString();
    s.monitorTls = monitor.value(QLatin1String("tls")).toBool();
    s.raw = o;
    return s;
}

std::optional<QString> decodeBoardEvent(const QByteArray &payload, QString *error)
{
    QString why;
    const std::optional<QJsonObject> object = parseObject(payload, MaxEventBytes, &why);
    if (!object || !object->value(QLatin1String("event")).isString()) {
        if (error)
            *error = object ? QStringLiteral("'event' is not text") : why;
        return std::nullopt;
    }
    const QJsonObject &o = *object;
    const QString event = o.value(QLatin1String("event")).toString();
    const QString who = o.contains(QLatin1String("client")) ? o.value(QLatin1String("client")).toString()
                                                             : o.value(QLatin1String("service")).toString();
    QString text = who.isEmpty() ? event : event + QLatin1Char(' ') + who;
    if (o.contains(QLatin1String("action")))
        text += QStringLiteral(" (%1)").arg(o.value(QLatin1String("action")).toString());
    else if (o.contains(QLatin1String("error")))
        text += QStringLiteral(": %1").arg(o.value(QLatin1String("error")).toString());
    return text;
}

std::optional<bool> decodeBoardOnline(const QByteArray &payload, QString *error)
{
    if (payload == "true")
        return true;
    if (payload == "false")
        return false;
    if (error)
        *error = QStringLiteral("'online' is neither true nor false (%1 bytes)").arg(payload.size());
    return std::nullopt;
}

} // namespace Kennel
