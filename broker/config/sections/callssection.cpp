#include "callssection.h"

#include <iterator>

namespace Kennel::Config {

namespace {

const NumericKey callsTable[] = {
    {"calls", "max_outstanding", nullptr, nullptr, nullptr, ValueKind::Count, 1, 1000000,
     [](const BrokerConfig &c) -> qint64 { return c.calls.maxOutstanding; },
     [](BrokerConfig &c, qint64 v) { c.calls.maxOutstanding = int(v); }},
    {"calls", "max_deadline_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 1, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.calls.maxDeadline.count(); },
     [](BrokerConfig &c, qint64 v) { c.calls.maxDeadline = std::chrono::milliseconds(v); }},
    {"calls", "default_deadline_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 1, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.calls.defaultDeadline.count(); },
     [](BrokerConfig &c, qint64 v) { c.calls.defaultDeadline = std::chrono::milliseconds(v); }},
};

} // namespace

const QList<NumericKey> &callsNumericKeys()
{
    static const QList<NumericKey> keys(std::begin(callsTable), std::end(callsTable));
    return keys;
}

QStringList callsKeys()
{
    return numericKeyNames(GroupCalls);
}

} // namespace Kennel::Config
