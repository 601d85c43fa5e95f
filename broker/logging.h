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
Q_DECLARE_LOGGING_CATEGORY(lcHold)     // kennel.hold: messages held for names expected back, and their outcome
Q_DECLARE_LOGGING_CATEGORY(lcCalls)    // kennel.calls: calls that did not end in a reply, dropped replies
Q_DECLARE_LOGGING_CATEGORY(lcTraffic)  // kennel.traffic: every routed message (--log-traffic)
Q_DECLARE_LOGGING_CATEGORY(lcWatchdog) // kennel.watchdog: registrations, late/expired, actions and their outcome
Q_DECLARE_LOGGING_CATEGORY(lcSupervisor) // kennel.supervisor: services started, exited, restarted, failed
Q_DECLARE_LOGGING_CATEGORY(lcService)  // kennel.service: what supervised services print (stdout/stderr)
Q_DECLARE_LOGGING_CATEGORY(lcSystemd)  // kennel.systemd: readiness and watchdog notifications to systemd
Q_DECLARE_LOGGING_CATEGORY(lcBridge)   // kennel.bridge: the MQTT link, the spool, remote names (bridge/)
Q_DECLARE_LOGGING_CATEGORY(lcPolicy)   // kennel.policy: messages, publications and calls the access policy denied
} // namespace Kennel

// Logs that fit journald. Debian's Qt has no journald support: under systemd every line would land
// at priority info, with a second timestamp beside the journal's own. When stderr is the journal
// (JOURNAL_STREAM names its device and inode, see systemd.exec(5)), lines carry sd-daemon's "<N>"
// priority prefix (sd-daemon(3)) instead of a timestamp, so `journalctl -p warning` shows exactly
// the warnings.
namespace Kennel::Logging {
// sd-daemon priorities: QtDebugMsg 7, QtInfoMsg 6, QtWarningMsg 4, QtCriticalMsg 3, QtFatalMsg 2.
int journalPriority(QtMsgType type);
// The Qt level a line with priority 0..7 is logged at (0..3 critical, 4 warning, 5..6 info, 7 debug).
QtMsgType messageType(int priority);
// Whether JOURNAL_STREAM ("DEV:INODE") names the file stderr is open on.
bool stderrIsJournal();
// From then on every message goes to stderr as "<N>" + the message pattern (without a time unless
// QT_MESSAGE_PATTERN asks for one), each line of a multi-line message prefixed.
void installJournalHandler();
// A supervised service's line that starts with its own "<N>" (N 0..7): returns N and drops the
// prefix from `line`; -1 (line untouched) otherwise.
int takePriorityPrefix(QByteArrayView &line);

// While one lives, messages go to the journal with this priority rather than their level's: a
// service's "<1>" stays 1, though Qt has no level for it. For the one message logged in its scope.
class PriorityOverride
{
public:
    explicit PriorityOverride(int priority);
    ~PriorityOverride();
    PriorityOverride(const PriorityOverride &) = delete;
    PriorityOverride &operator=(const PriorityOverride &) = delete;

private:
    int m_previous;
};
} // namespace Kennel::Logging
