// Every setting of the broker in one place, with its built-in default. Loaded from an INI file and
// the command line by ConfigLoader; docs/CONFIG.md lists each key.
#pragma once

#include "bridgesettings.h"
#include "holdsettings.h"
#include "callsettings.h"
#include "topicsettings.h"

#include <QByteArrayView>
#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>
#include <QStringView>

#include <chrono>
#include <cstdint>
#include <optional>

namespace Kennel {

// One place the broker listens: "HOST:PORT" (TCP; HOST may be an IPv4 or [IPv6] literal or
// "localhost") or "unix:PATH".
struct ListenAddress
{
    enum class Kind { Tcp, Unix };
    Kind kind = Kind::Tcp;
    QString host;       // Tcp
    quint16 port = 0;   // Tcp; 0 picks a free port (tests)
    QString path;       // Unix

    QString toString() const;
    bool operator==(const ListenAddress &other) const;
};

// What the watchdog does when a client stops feeding (docs/CONFIG.md [watchdog]).
enum class WatchdogAction : quint8 {
    Terminate, // SIGTERM, then SIGKILL after killGrace if it has not exited (the default)
    Kill,      // SIGKILL at once, as the old server did
    Disconnect,// close its connection only
    Notify,    // only report it
};

const char *watchdogActionName(WatchdogAction action); // "terminate", "kill", "disconnect", "notify"
std::optional<WatchdogAction> parseWatchdogAction(QStringView text); // exact, lower case

// [watchdog.actions]: "pattern = action". A pattern is 1..MaxPatternLength characters of the name
// alphabet [A-Za-z0-9._-] plus the wildcards '*' (any run, also empty) and '?' (one character).
struct WatchdogActionRule
{
    static constexpr int MaxPatternLength = 128;

    QString namePattern;
    WatchdogAction action = WatchdogAction::Terminate;

    // The whole name must match. No regular expression and no allocation: the pattern alphabet
    // has no escapes or classes, so a direct wildcard walk over the bytes is all it takes, and
    // there is nothing to compile or to keep in step with namePattern.
    bool matches(QByteArrayView clientName) const;
    static bool isValidPattern(QStringView pattern);
};

struct WatchdogSettings
{
    // Terms for a client that asks for none (native terms of 0) and for every legacy client: the
    // old server's 3 s x 3.
    std::chrono::milliseconds defaultInterval{3000};
    int defaultAllowedMisses = 3;
    // Bounds on what a client may ask for.
    std::chrono::milliseconds minInterval{100};
    std::chrono::milliseconds maxInterval{3600 * 1000};
    int maxAllowedMisses = 1000;
    // Extra time before the first deadline after a client (re)registers: start-up work.
    std::chrono::milliseconds registerGrace{0};
    // Terminate: SIGTERM, then SIGKILL after this long if the process is still there.
    std::chrono::milliseconds killGrace{3000};
    // Client names whose watchdog history (registrations, expiries, signals) is kept for the
    // monitor, also for names long gone. At the cap a quarter of the names no longer watched are
    // forgotten at once; a watched name's history never is. A bound so that clients coming and
    // going under ever new names cannot grow the broker without limit.
    int historyNames = 65536;
    // The action for a client whose name matches no rule.
    WatchdogAction defaultAction = WatchdogAction::Terminate;
    // First match wins; applies to the action a client did not choose itself.
    QList<WatchdogActionRule> actionRules;
    // Actions a client may request at registration; a request outside this set is refused with
    // InvalidWatchdogTerms. Empty: clients may not choose (the config decides).
    QList<WatchdogAction> clientSelectableActions{WatchdogAction::Terminate, WatchdogAction::Disconnect,
                                                  WatchdogAction::Notify};

    // The action for a client of this name that did not choose one: the first rule whose pattern
    // matches, in file order, else defaultAction. Runs once per watchdog registration.
    WatchdogAction actionFor(QByteArrayView clientName) const;
};

// A program the broker starts and restarts (docs/CONFIG.md [service.NAME]).
struct ServiceSettings
{
    enum class Restart { Always, OnFailure, Never };
    QString name;                  // from the group name: [service.NAME]
    QString program;               // absolute once loaded (the file may name it relative to its own folder)
    QStringList arguments;
    QString workingDirectory;      // empty: the broker's; absolute once loaded, like program
    QStringList environment;       // "KEY=VALUE" added to the broker's environment
    Restart restart = Restart::OnFailure;
    std::chrono::milliseconds restartDelay{1000};     // first delay; doubles per consecutive failure
    std::chrono::milliseconds restartDelayMax{30000};
    int startLimit = 5;                               // at most this many starts ...
    std::chrono::milliseconds startLimitWindow{60000};// ... within this window, else failed
    int stopSignal = 15;                              // SIGTERM
    std::chrono::milliseconds stopTimeout{5000};      // then SIGKILL
    // Its processes may be admitted as a monitor by their uid (allow_local_peers); off: only by
    // the token, like anyone else (services are not operators).
    bool monitor = false;
    // Held delivery: messages to its name are held while it starts, runs unregistered or waits to
    // restart ([hold]); off: refused at once as for any unregistered name (unless [hold] names lists it).
    bool hold = true;
    // Output lines logged per second; past it they are counted, then summed up in one line.
    int logLinesPerSecond = 100;
    // Its recent output kept for kennelctl logs and the monitor (a ring; docs/CONFIG.md
    // output_lines): at most this many lines and bytes, the oldest dropped (counted). Loaded from
    // [service.NAME], else [supervisor] output_lines / output_bytes.
    int outputLines = 1000;
    qint64 outputBytes = 256 * 1024;

    // Order and identity (docs/CONFIG.md [service.NAME]).
    // The name its program registers with the broker; empty: the service's own name. It is how
    // the supervisor knows the service is ready (its dependents may start).
    QString clientName;
    // Services that must have registered their names before this one is started; it is stopped
    // before them.
    QStringList after;
    // Run as this user / group (a name or a number); supplementary groups exactly as listed.
    // All empty: as the broker.
    QString user;
    QString group;
    QStringList supplementaryGroups;

    // Start on demand (docs/CONFIG.md [service.NAME] start): with-broker starts it with the
    // broker; on-demand leaves it down until the first message held for its registered name, and
    // answers start_failed to what was held if it has not registered within startTimeout.
    enum class Start { WithBroker, OnDemand };
    Start start = Start::WithBroker;
    std::chrono::milliseconds startTimeout{10000};

    const QString &registeredName() const { return clientName.isEmpty() ? name : clientName; }

    // Names reserved for it (docs/SECURITY.md): only its processes may register them. nullopt
    // (no `names` key): the name it registers; an empty list (`names =`): none.
    std::optional<QStringList> reservedNames;
    QStringList namesReserved() const { return reservedNames ? *reservedNames : QStringList{registeredName()}; }
};

const char *restartPolicyName(ServiceSettings::Restart restart); // "always", "on-failure", "never"
std::optional<ServiceSettings::Restart> parseRestartPolicy(QStringView text);

// Stop signals by name: TERM, INT, HUP, QUIT, USR1, USR2, KILL (an optional "SIG" prefix is
// accepted), or a number 1..SIGRTMAX. nullopt for anything else.
std::optional<int> parseSignal(QStringView text);
QString signalName(int signalNumber); // "TERM" for the named ones above, else the number

// The access policy (docs/CONFIG.md [policy]): rules as written, in file order, parsed into an
// AccessPolicy (broker/policy/) by whoever decides. Empty: everything allowed, as before.
struct PolicySettings
{
    QList<std::pair<QString, QString>> rules; // (key, "ACTION VERB PATTERN [CONDITION ...]")
    bool defaultAllow = true;
};

// Privileged monitors (docs/CONFIG.md [monitor]).
struct MonitorSettings
{
    // Extra listeners for monitors only (e.g. the board's network address, with TLS), in addition
    // to a Hello with role Monitor on the client listeners. Empty: none.
    QList<ListenAddress> listen;
    bool tls = false;               // the monitor listeners' TCP addresses speak TLS (Unix ones never do)
    QString certificateFile;        // PEM; required when tls
    QString privateKeyFile;         // PEM; required when tls
    // Credentials. A token (from the file when token_file is set) admits a monitor from anywhere;
    // an empty token admits nobody by token. On a Unix socket, root and the broker's own user are
    // admitted by their peer credentials when allowLocalPeers is set.
    QByteArray token;
    QString tokenFile;
    bool allowLocalPeers = true;
    int maxMonitors = 8;            // admitted monitors at once; also TLS handshakes in progress at once
    // Failed attempts: each failure from an address doubles that address's delay before its next
    // answer, from failureDelay up to failureDelayMax.
    std::chrono::milliseconds failureDelay{500};
    std::chrono::milliseconds failureDelayMax{30000};
    // TLS: a connection that has not completed its handshake by then is closed.
    std::chrono::milliseconds handshakeTimeout{10000};
    // Admission that cannot be starved (docs/SECURITY.md): a monitor Hello not answered
    // within admissionTimeout is refused (its answer may be held back by the failure delay);
    // connections in a TLS handshake or waiting for admission, per address and per network prefix
    // (IPv4 /24, IPv6 /64), at most these many (Unix peers apart; a proven address may have
    // max(maxWaitingPerAddress, maxMonitors) and no prefix cap); token
    // checks broker-wide at most maxTokenGuessesPerSecond; an address that presented the right
    // token stays proven (skips the prefix cap, the prefix penalty and the guess budget) this long.
    std::chrono::milliseconds admissionTimeout{10000};
    int maxWaitingPerAddress = 4;
    int maxWaitingPerPrefix = 8;
    int maxTokenGuessesPerSecond = 10;
    std::chrono::milliseconds provenAddressTtl{600000};
    // The stream: bytes queued towards one monitor before traffic records are dropped (events and
    // snapshots are never dropped; a monitor whose queue exceeds twice this is disconnected).
    qint64 maxQueueBytes = 4 * 1024 * 1024;
    // Bytes queued towards all monitors; past it the monitor with the largest queue is
    // disconnected. 0: RAM/32 within 16 MiB..512 MiB, never below 2 x maxQueueBytes.
    qint64 totalQueueBytes = 0;
    int trafficPreviewBytes = 64;       // payload bytes per traffic record (0..1024)
    int maxTrafficPerSecond = 2000;     // records per second per monitor, then "N dropped" markers
    std::chrono::milliseconds totalsInterval{1000};
    // Topics (PROTOCOL §6.8): per-topic entries in one Topics record, the busiest first.
    int topicsPerRecord = 200;

    // Roles (docs/SECURITY.md "Monitor roles"): an operator sees and controls, a read-only
    // monitor only sees. The token above admits operators; this one (from the file when
    // read_only_token_file is set) admits read-only monitors. On a Unix socket (allowLocalPeers)
    // a uid in readOnlyUids is admitted read-only, one in operatorUids as an operator; unset,
    // operatorUids means root and the broker's own user (as before roles existed), unless listed
    // in readOnlyUids.
    QByteArray readOnlyToken;
    QString readOnlyTokenFile;
    std::optional<QList<uint>> operatorUids;
    QList<uint> readOnlyUids;
};

// What a monitor token may be, and how a token file is read. Shared by ConfigLoader (which checks
// a configuration up front) and MonitorAuthenticator (which reads the file when the broker starts).
struct MonitorToken
{
    // Long enough that guessing, slowed down per address, is hopeless; short enough for a Hello.
    static constexpr int MinLength = 16;
    static constexpr int MaxLength = 1024;

    // Empty if `token` is acceptable, else why not. Printable ASCII without blanks only: the same
    // bytes then come out of an INI file, a token file and the monitor app's text field. The
    // reason never quotes the token.
    static QString check(QByteArrayView token);

    // Reads a token file: one token, trailing line breaks dropped. Refused (nullopt, *error says
    // why without quoting the file's content): a file that is missing, not a regular file,
    // unreadable, accessible by group or others (anyone who can read it is a monitor), larger than
    // MaxLength plus a line break, or whose token fails check().
    static std::optional<QByteArray> readFile(const QString &path, QString *error);
};

struct BrokerConfig
{
    QList<ListenAddress> listen; // empty after loading means: the defaults below

    // Limits, enforced at the door (docs/CONFIG.md "limits").
    int maxClients = 4096;                       // connections, registered or not
    quint32 maxFrameSize = 1024 * 1024;          // native header + body, bytes
    int maxNameLength = 64;                      // 1..64
    qint64 maxOutputQueueBytes = 4 * 1024 * 1024;// per connection, bytes queued towards it
    std::chrono::milliseconds registerTimeout{5000};   // accept -> registered (or legacy first frame)
    std::chrono::milliseconds shutdownFlushTimeout{2000};// SIGTERM: how long to flush queued output
    // A connection holding the beginning of a frame this long without the rest is closed (slowloris).
    std::chrono::milliseconds incompleteFrameTimeout{10000};
    // A native connection silent for half of this gets a Ping; silent for all of it, it is closed.
    // Also times TCP keepalive for every TCP connection. 0: off.
    std::chrono::milliseconds idleTimeout{60000};

    // Global budgets: bytes across all connections; past one, the most expensive holder
    // is shed (BudgetShedder). 0: derived from physical RAM at start (BudgetLedger: RAM/16 within
    // 16 MiB..1 GiB, RAM/8 within 32 MiB..2 GiB), never below the per-connection bound.
    qint64 totalIncompleteFrameBytes = 0;        // parked in incomplete frames
    qint64 totalQueueBytes = 0;                  // queued towards all client connections

    // Logging: the per-message path logs only when asked.
    bool logTraffic = false;
    // Log lines one peer address may cause per second (connection closes); past it they are
    // counted and summed up in one "N lines suppressed" line.
    int logLinesPerPeer = 20;
    // [log] rules: QLoggingCategory filter rules, one a line ("kennel.router.debug=true"); applied
    // before QT_LOGGING_RULES, which still overrides them. Empty: none.
    QString logRules;

    WatchdogSettings watchdog;
    // [supervisor] cgroup: how services' processes are tracked. Auto: a cgroup v2
    // group per service when one can be had (systemd's delegated cgroup, else one the broker
    // creates), else process groups; Off: process groups only.
    enum class ServiceCgroup { Auto, Off };
    ServiceCgroup serviceCgroup = ServiceCgroup::Auto;
    // [supervisor] output_lines / output_bytes: each service's output ring unless its own group
    // says otherwise.
    int serviceOutputLines = 1000;
    qint64 serviceOutputBytes = 256 * 1024;
    QList<ServiceSettings> services; // started in this order, stopped in reverse
    MonitorSettings monitor;
    // [hold]: messages to a name that is expected back are held, not refused (holding/).
    HoldSettings hold;
    // [calls]: bounds of request/reply calls (calls/).
    CallSettings calls;
    // [bridge]: the link to the fleet's MQTT broker (bridge/, docs/FLEET.md); url empty: none.
    BridgeSettings bridge;
    // [topics]: publish/subscribe bounds and the names old programs take part under (topics/).
    TopicSettings topics;
    // [policy]: who may own and send to which names.
    PolicySettings policy;

    static ListenAddress defaultTcpAddress();   // 127.0.0.1:8000
    static ListenAddress defaultUnixAddress();  // unix:$XDG_RUNTIME_DIR/kennel/broker.sock, or
                                                // /run/kennel/broker.sock as root, or /tmp/kennel-UID/broker.sock
    QList<ListenAddress> effectiveListen() const;
};

} // namespace Kennel
