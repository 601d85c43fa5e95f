// Decides whether a connection that asks to be a monitor is admitted, and makes guessing the
// answer slow. A monitor sees every client and every message and can disconnect clients and stop
// services, so its credential is the broker's most valuable secret, and the door it opens is the
// one an attacker on the board's network will knock on.
//
// Admission: on a Unix socket, root or the broker's own user by the kernel's peer credentials
// (when allowLocalPeers); anywhere, the configured token, compared in constant time.
//
// Throttling, per address (an IPv4 address, an IPv6 /64 — one host commonly owns a whole /64 — or
// "unix uid N"): every failure doubles that address's penalty, from failureDelay up to
// failureDelayMax, and the answers to one address go out one at a time, each only after the
// penalty that applies to it. Parallel attempts therefore queue up behind each other instead of
// all being answered after one delay, and a right token from a penalised address waits too, so
// the time of an answer tells nothing about the token. The penalty is forgotten failureDelayMax
// after the address's last failure. Memory is bounded: at most maxTrackedAddresses addresses (the
// least recently seen is forgotten first) and maxPendingPerAddress answers waiting per address
// (beyond that an attempt is refused without being looked at).
#pragma once

#include "brokerconfig.h"
#include "logthrottle.h"
#include "monitorcodec.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QHash>
#include <QObject>
#include <QString>

#include <chrono>
#include <functional>
#include <list>
#include <optional>
#include <sys/types.h>

namespace Kennel {

class MonitorAuthenticator : public QObject
{
    Q_OBJECT
public:
    static constexpr int DefaultMaxTrackedAddresses = 4096;
    static constexpr int DefaultMaxPendingPerAddress = 16;
    // Proven addresses remembered at once; beyond it the one proven longest ago is forgotten.
    static constexpr int MaxProvenAddresses = 64;

    explicit MonitorAuthenticator(const MonitorSettings &settings, QObject *parent = nullptr);
    ~MonitorAuthenticator() override;

    // Reads token_file if set (MonitorToken::readFile: trailing line breaks dropped; an empty,
    // over-long, group- or world-accessible file is refused with a reason naming the file).
    // Without token_file the configured token applies and this only checks that token and
    // token_file are not both set. False with *error: the broker must not start.
    bool load(QString *error);

    // A reload: token, token_file and allow_local_peers from `settings`, for attempts from now on
    // (admitted monitors stay; proven addresses are forgotten, they proved the old token). False
    // with *error, the old credentials kept, when the token file cannot be used.
    bool replaceCredentials(const MonitorSettings &settings, QString *error);
    // Do the token files of `settings` (the paths already in use) hold other tokens than those in
    // use — a token rotated by rewriting its file? True too when one cannot be read (the reload
    // then says why and keeps the old ones).
    bool tokenFilesChanged(const MonitorSettings &settings) const;

    // address: an IP literal (as QHostAddress prints it; IPv4-mapped IPv6 counts as IPv4) or
    // "unix". uid: the peer's user on a Unix socket, from the kernel.
    struct Peer
    {
        QString address;
        bool isUnix = false;
        std::optional<uid_t> uid;
        // Unix peers: the supervised service the peer process belongs to (empty: none), and
        // whether that service may be a monitor by its uid ([service.NAME] monitor).
        QString service;
        bool serviceMayMonitor = false;
    };
    // Calls done(admitted, how, role) later from the event loop (never from inside the call):
    // failures, and any attempt from an address under penalty, are answered only after that
    // address's delay. how: "peer uid 0", "peer uid 1000" (the broker's own user), "token",
    // "read-only token"; on refusal, why ("wrong token", ...). role: what the credential allows
    // (the operator token and operator_uids: Operator; read_only_token and read_only_uids:
    // ReadOnly; meaningless on refusal). Nothing is called if `context` is destroyed first.
    using Done = std::function<void(bool admitted, const QString &how, MonitorRole role)>;
    void authenticate(const Peer &peer, QByteArrayView token, QObject *context, Done done);
    // The role a local peer of this uid is admitted with, or nullopt if its uid admits it not
    // (allow_local_peers aside): read_only_uids, else operator_uids (unset: root and our own user).
    std::optional<MonitorRole> uidRole(uid_t uid) const;

    // Refused attempts since construction.
    quint64 failures() const { return m_failures; }
    // Of those: refused because the broker-wide guess budget was spent; uid admissions refused
    // because the peer is a service.
    quint64 guessesRefused() const { return m_guessesRefused; }
    quint64 servicesRefused() const { return m_servicesRefused; }
    // The address presented the right token within provenAddressTtl (and no wrong one since).
    bool isProven(const QString &address) const;

    // --- diagnostics and tests ---
    bool hasToken() const { return !m_tokenMac.isEmpty() || !m_readOnlyTokenMac.isEmpty(); }
    // The address key throttling uses for this peer ("10.0.0.1", "2001:db8:1:2::/64", "unix uid 5").
    static QString throttleKey(const Peer &peer);
    // The network prefix key: "10.0.0.0/24" for IPv4; the /64 (the address key) for IPv6; empty
    // for Unix peers and anything that is not an IP address.
    static QString prefixKey(const Peer &peer);
    // The delay the next failure from this peer's address would add to; 0 when not penalised.
    std::chrono::milliseconds penaltyFor(const Peer &peer) const;
    // Tracks held: addresses and (IPv4) /24 prefixes, bounded together by maxAddresses.
    int trackedAddresses() const { return int(m_tracks.size()); }
    int pendingAnswers() const { return m_pendingTotal; }
    // Both at least 1. Lowering maxAddresses forgets the least recently seen addresses at once.
    void setTrackingLimits(int maxAddresses, int maxPendingPerAddress);

private:
    using Clock = std::chrono::steady_clock;

    struct Track
    {
        quint64 id = 0;                               // tells a forgotten and re-created track from the old one
        std::chrono::milliseconds penalty{0};         // what the last failure was delayed by; 0: none
        Clock::time_point lastFailureAnswer{};        // when the last failure was (is to be) answered
        Clock::time_point lastAnswer{};               // when the last answer queued for this address goes out
        int pending = 0;                              // answers queued
        std::list<QString>::iterator lru;             // its place in m_lru
    };

    void setToken(const QByteArray &token);
    void setReadOnlyToken(const QByteArray &token);
    QByteArray mac(QByteArrayView token) const;
    // The role the token admits with, nullopt if it admits none.
    std::optional<MonitorRole> tokenMatches(QByteArrayView token) const;
    Track *track(const QString &key, Clock::time_point now);
    void evictOldest();
    Track *createTrack(const QString &key);
    void answered(const QString &key, quint64 trackId);
    bool takeGuess(Clock::time_point now);
    void setProven(const QString &address, bool proven, Clock::time_point now);
    void logFailure(const QString &key, const QString &why, std::chrono::milliseconds delay);

    MonitorSettings m_settings;
    QByteArray m_macKey;    // random per process: digests of tokens are worthless outside it
    QByteArray m_tokenMac;  // empty: no token admits anyone
    QByteArray m_readOnlyTokenMac; // roles: empty: no token admits a read-only monitor
    bool m_tokenConfigured = false; // settings.token was set (load() then refuses a token_file too)
    QHash<QString, Track> m_tracks;
    std::list<QString> m_lru; // least recently seen first
    int m_maxTracked = DefaultMaxTrackedAddresses;
    int m_maxPendingPerAddress = DefaultMaxPendingPerAddress;
    int m_pendingTotal = 0;
    quint64 m_nextTrackId = 1;
    quint64 m_failures = 0;
    quint64 m_guessesRefused = 0;
    quint64 m_servicesRefused = 0;
    double m_guessTokens = -1;          // the bucket; -1: full (not yet used)
    Clock::time_point m_guessRefill{};
    QHash<QString, Clock::time_point> m_proven; // exact address -> proven until
    LogThrottle m_failureLog;
};

} // namespace Kennel
