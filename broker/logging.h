// The broker's logging categories, in one place so that docs/CONFIG.md can list them and an
// operator can turn each on with QT_LOGGING_RULES (e.g. "kennel.session.debug=true").
// All default to info: debug output is asked for, never the default.
#pragma once

#include <QLoggingCategory>

namespace Kennel {
Q_DECLARE_LOGGING_CATEGORY(lcBroker)   // kennel.broker: start, listeners, shutdown, the door
Q_DECLARE_LOGGING_CATEGORY(lcPoller)   // kennel.poller: the epoll loop
Q_DECLARE_LOGGING_CATEGORY(lcSession)  // kennel.session: connections closing and refusals
Q_DECLARE_LOGGING_CATEGORY(lcProtocol) // kennel.protocol: native registrations and client errors
Q_DECLARE_LOGGING_CATEGORY(lcLegacy)   // kennel.legacy: legacy registrations and bindings
Q_DECLARE_LOGGING_CATEGORY(lcRouter)   // kennel.router: undeliverable messages
Q_DECLARE_LOGGING_CATEGORY(lcTraffic)  // kennel.traffic: every routed message (--log-traffic)
Q_DECLARE_LOGGING_CATEGORY(lcWatchdog) // kennel.watchdog: registrations, late/expired, actions and their outcome
Q_DECLARE_LOGGING_CATEGORY(lcSupervisor) // kennel.supervisor: services started, exited, restarted, failed
Q_DECLARE_LOGGING_CATEGORY(lcService)  // kennel.service: what supervised services print (stdout/stderr)
Q_DECLARE_LOGGING_CATEGORY(lcSystemd)  // kennel.systemd: readiness and watchdog notifications to systemd
} // namespace Kennel
