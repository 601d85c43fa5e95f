#include "logging.h"

namespace Kennel {
Q_LOGGING_CATEGORY(lcBroker, "kennel.broker", QtInfoMsg)
Q_LOGGING_CATEGORY(lcPoller, "kennel.poller", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSession, "kennel.session", QtInfoMsg)
Q_LOGGING_CATEGORY(lcProtocol, "kennel.protocol", QtInfoMsg)
Q_LOGGING_CATEGORY(lcLegacy, "kennel.legacy", QtInfoMsg)
Q_LOGGING_CATEGORY(lcRouter, "kennel.router", QtInfoMsg)
Q_LOGGING_CATEGORY(lcTraffic, "kennel.traffic", QtInfoMsg)
Q_LOGGING_CATEGORY(lcWatchdog, "kennel.watchdog", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSupervisor, "kennel.supervisor", QtInfoMsg)
Q_LOGGING_CATEGORY(lcService, "kennel.service", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSystemd, "kennel.systemd", QtInfoMsg)
} // namespace Kennel
