#include "monitorauthenticator.h"

#include <QHostAddress>
#include <QLoggingCategory>
#include <QMessageAuthenticationCode>
#include <QPointer>
#include <QRandomGenerator>
#include <QTimer>

#include <algorithm>
#include <iterator>
#include <unistd.h>

namespace Kennel {

namespace {

Q_LOGGING_CATEGORY(lcMonitorAuth, "kennel.monitor", QtInfoMsg)

constexpr int MacKeyBytes = 32;
// A key longer than any address Qt prints: bounds what one track costs.
constexpr int MaxKeyLength = 64;

// Both are HMAC-SHA256 digests, so equal lengths; the loop looks at every byte whatever it finds,
// and the digests, not the tokens, are compared, so neither the token's length nor its first
// differing byte shows in the time taken.
bool constantTimeEqual(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false;
    volatile unsigned char difference = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        difference = difference | static_cast<unsigned char>(a[i] ^ b[i]);
    return difference == 0;
}

} // namespace

MonitorAuthenticator::MonitorAuthenticator(const MonitorSettings &settings, QObject *parent)
    : QObject(parent)
    , m_settings(settings)
{
    m_macKey.resize(MacKeyBytes);
    QRandomGenerator::system()->generate(m_macKey.begin(), m_macKey.end());
    m_tokenConfigured = !m_settings.token.isEmpty();
    setToken(m_settings.token);
    setReadOnlyToken(m_settings.readOnlyToken);
}

MonitorAuthenticator::~MonitorAuthenticator() = default;

bool MonitorAuthenticator::load(QString *error)
{
    if (m_tokenConfigured && !m_settings.tokenFile.isEmpty()) {
        *error = QStringLiteral("monitor: token and token_file are both set; give one of them");
        return false;
    }
    if (!m_settings.readOnlyTokenFile.isEmpty()) {
        QString why;
        const std::optional<QByteArray> token = MonitorToken::readFile(m_settings.readOnlyTokenFile, &why);
        if (!token) {
            *error = QStringLiteral("monitor read_only_token_file \"") + m_settings.readOnlyTokenFile + QStringLiteral("\": ") + why;
            return false;
        }
        setReadOnlyToken(*token);
        qCInfo(lcMonitorAuth).noquote() << "read-only monitor token read from" << m_settings.readOnlyTokenFile;
    }
    if (m_settings.tokenFile.isEmpty())
        return true;
    QString why;
    const std::optional<QByteArray> token = MonitorToken::readFile(m_settings.tokenFile, &why);
    if (!token) {
        *error = QStringLiteral("monitor token_file \"") + m_settings.tokenFile + QStringLiteral("\": ") + why;
        return false;
    }
    setToken(*token);
    qCInfo(lcMonitorAuth).noquote() << "monitor token read from" << m_settings.tokenFile;
    return true;
}

bool MonitorAuthenticator::replaceCredentials(const MonitorSettings &settings, QString *error)
{
    if (!settings.token.isEmpty() && !settings.tokenFile.isEmpty()) {
        *error = QStringLiteral("monitor: token and token_file are both set; give one of them");
        return false;
    }
    QByteArray token = settings.token;
    if (!settings.tokenFile.isEmpty()) {
        QString why;
        const std::optional<QByteArray> read = MonitorToken::readFile(settings.tokenFile, &why);
        if (!read) {
            *error = QStringLiteral("monitor token_file \"") + settings.tokenFile + QStringLiteral("\": ") + why;
            return false;
        }
        token = *read;
    }
    // Roles: the read-only token, read the same way; nothing changes unless both can be had.
    QByteArray readOnlyToken = settings.readOnlyToken;
    if (!settings.readOnlyTokenFile.isEmpty()) {
        QString why;
        const std::optional<QByteArray> read = MonitorToken::readFile(settings.readOnlyTokenFile, &why);
        if (!read) {
            token.fill('\0');
            *error = QStringLiteral("monitor read_only_token_file \"") + settings.readOnlyTokenFile + QStringLiteral("\": ") + why;
            return false;
        }
        readOnlyToken = *read;
    }
    m_settings.tokenFile = settings.tokenFile;
    m_settings.allowLocalPeers = settings.allowLocalPeers;
    m_settings.readOnlyTokenFile = settings.readOnlyTokenFile;
    m_settings.operatorUids = settings.operatorUids;
    m_settings.readOnlyUids = settings.readOnlyUids;
    m_tokenConfigured = !settings.token.isEmpty();
    setToken(token);
    setReadOnlyToken(readOnlyToken);
    token.fill('\0');
    readOnlyToken.fill('\0');
    m_proven.clear();
    return true;
}

bool MonitorAuthenticator::tokenFilesChanged(const MonitorSettings &settings) const
{
    for (const auto &[path, inUse] : {std::pair{settings.tokenFile, m_tokenMac}, std::pair{settings.readOnlyTokenFile, m_readOnlyTokenMac}}) {
        if (path.isEmpty())
            continue;
        QString why;
        std::optional<QByteArray> token = MonitorToken::readFile(path, &why);
        if (!token)
            return true;
        const bool same = constantTimeEqual(mac(*token), inUse);
        token->fill('\0');
        if (!same)
            return true;
    }
    return false;
}

void MonitorAuthenticator::setToken(const QByteArray &token)
{
    m_tokenMac = token.isEmpty() ? QByteArray() : mac(token);
    // Only the digest is needed from here on; keep no second copy of the secret around.
    m_settings.token.fill('\0');
    m_settings.token.clear();
}

void MonitorAuthenticator::setReadOnlyToken(const QByteArray &token)
{
    m_readOnlyTokenMac = token.isEmpty() ? QByteArray() : mac(token);
    m_settings.readOnlyToken.fill('\0');
    m_settings.readOnlyToken.clear();
}

QByteArray MonitorAuthenticator::mac(QByteArrayView token) const
{
    QMessageAuthenticationCode code(QCryptographicHash::Sha256, m_macKey);
    code.addData(token.data(), token.size());
    return code.result();
}

std::optional<MonitorRole> MonitorAuthenticator::tokenMatches(QByteArrayView token) const
{
    // An over-long token is refused unhashed: its length is the sender's own, nothing to hide.
    if ((m_tokenMac.isEmpty() && m_readOnlyTokenMac.isEmpty()) || token.isEmpty() || token.size() > MonitorToken::MaxLength)
        return std::nullopt;
    // Both digests are compared whichever matches, so the time taken does not tell which it was.
    const QByteArray digest = mac(token);
    const bool isOperator = !m_tokenMac.isEmpty() && constantTimeEqual(digest, m_tokenMac);
    const bool isReadOnly = !m_readOnlyTokenMac.isEmpty() && constantTimeEqual(digest, m_readOnlyTokenMac);
    if (isOperator)
        return MonitorRole::Operator;
    if (isReadOnly)
        return MonitorRole::ReadOnly;
    return std::nullopt;
}

std::optional<MonitorRole> MonitorAuthenticator::uidRole(uid_t uid) const
{
    if (m_settings.readOnlyUids.contains(uint(uid)))
        return MonitorRole::ReadOnly;
    if (m_settings.operatorUids)
        return m_settings.operatorUids->contains(uint(uid)) ? std::optional(MonitorRole::Operator) : std::nullopt;
    // Before roles, root and the broker's own user were the uids admitted, and could do everything.
    if (uid == 0 || uid == ::geteuid())
        return MonitorRole::Operator;
    return std::nullopt;
}

QString MonitorAuthenticator::throttleKey(const Peer &peer)
{
    if (peer.isUnix)
        return peer.uid ? QStringLiteral("unix uid ") + QString::number(*peer.uid) : QStringLiteral("unix");
    QHostAddress address(peer.address);
    if (address.isNull()) {
        // Tolerate "HOST:PORT" and "[IPv6]:PORT": the port says nothing about who knocks.
        QString host = peer.address;
        if (host.startsWith(QLatin1Char('[')) && host.contains(QLatin1Char(']')))
            host = host.mid(1, host.indexOf(QLatin1Char(']')) - 1);
        else if (host.count(QLatin1Char(':')) == 1)
            host = host.left(host.indexOf(QLatin1Char(':')));
        address = QHostAddress(host);
    }
    if (address.isNull())
        return peer.address.left(MaxKeyLength);
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4);
    if (isV4)
        return QHostAddress(v4).toString();
    // One host, one /64: SLAAC and privacy addresses hand every machine 2^64 addresses to knock from.
    Q_IPV6ADDR bytes = address.toIPv6Address();
    std::fill(bytes.c + 8, bytes.c + 16, quint8(0));
    return QHostAddress(bytes).toString() + QStringLiteral("/64");
}

QString MonitorAuthenticator::prefixKey(const Peer &peer)
{
    if (peer.isUnix)
        return {};
    const QString key = throttleKey(peer);
    QHostAddress address(key);
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4);
    if (isV4)
        return QHostAddress(v4 & 0xffffff00u).toString() + QStringLiteral("/24");
    return key.endsWith(QLatin1String("/64")) ? key : QString();
}

MonitorAuthenticator::Track *MonitorAuthenticator::track(const QString &key, Clock::time_point now)
{
    const auto it = m_tracks.find(key);
    if (it == m_tracks.end())
        return nullptr;
    Track &t = *it;
    // Decay: failureDelayMax without a failure and nothing waiting, and the address starts afresh.
    if (t.pending == 0 && now >= t.lastFailureAnswer + m_settings.failureDelayMax) {
        m_lru.erase(t.lru);
        m_tracks.erase(it);
        return nullptr;
    }
    m_lru.splice(m_lru.end(), m_lru, t.lru);
    return &t;
}

void MonitorAuthenticator::evictOldest()
{
    if (m_lru.empty())
        return;
    m_tracks.remove(m_lru.front());
    m_lru.pop_front();
}

std::chrono::milliseconds MonitorAuthenticator::penaltyFor(const Peer &peer) const
{
    const auto it = m_tracks.constFind(throttleKey(peer));
    if (it == m_tracks.constEnd())
        return std::chrono::milliseconds(0);
    if (it->pending == 0 && Clock::now() >= it->lastFailureAnswer + m_settings.failureDelayMax)
        return std::chrono::milliseconds(0);
    return it->penalty;
}

void MonitorAuthenticator::setTrackingLimits(int maxAddresses, int maxPendingPerAddress)
{
    m_maxTracked = std::max(1, maxAddresses);
    m_maxPendingPerAddress = std::max(1, maxPendingPerAddress);
    while (int(m_tracks.size()) > m_maxTracked)
        evictOldest();
}

bool MonitorAuthenticator::isProven(const QString &address) const
{
    const auto it = m_proven.constFind(address);
    return it != m_proven.constEnd() && Clock::now() < *it;
}

void MonitorAuthenticator::setProven(const QString &address, bool proven, Clock::time_point now)
{
    if (!proven) {
        m_proven.remove(address);
        return;
    }
    if (m_settings.provenAddressTtl.count() <= 0)
        return;
    if (!m_proven.contains(address) && m_proven.size() >= MaxProvenAddresses) {
        // Forget the one that expires first (proven longest ago).
        auto oldest = m_proven.begin();
        for (auto it = m_proven.begin(); it != m_proven.end(); ++it)
            if (*it < *oldest)
                oldest = it;
        m_proven.erase(oldest);
    }
    m_proven.insert(address, now + m_settings.provenAddressTtl);
}

bool MonitorAuthenticator::takeGuess(Clock::time_point now)
{
    const double capacity = std::max(1, m_settings.maxTokenGuessesPerSecond);
    if (m_guessTokens < 0) {
        m_guessTokens = capacity;
    } else {
        const double seconds = std::chrono::duration<double>(now - m_guessRefill).count();
        m_guessTokens = std::min(capacity, m_guessTokens + seconds * capacity);
    }
    m_guessRefill = now;
    if (m_guessTokens < 1.0)
        return false;
    m_guessTokens -= 1.0;
    return true;
}

MonitorAuthenticator::Track *MonitorAuthenticator::createTrack(const QString &key)
{
    while (int(m_tracks.size()) >= m_maxTracked)
        evictOldest();
    m_lru.push_back(key);
    Track fresh;
    fresh.id = m_nextTrackId++;
    fresh.lru = std::prev(m_lru.end());
    return &*m_tracks.insert(key, fresh);
}

void MonitorAuthenticator::authenticate(const Peer &peer, QByteArrayView token, QObject *context, Done done)
{
    const Clock::time_point now = Clock::now();
    const QString key = throttleKey(peer);
    Track *t = track(key, now);

    // A flood from one address: refused without looking at the token, so the answer carries no
    // information, and without queueing, so the flood costs no memory.
    if (t && t->pending >= m_maxPendingPerAddress) {
        ++m_failures;
        const QString why = QStringLiteral("too many attempts waiting for an answer from this address");
        logFailure(key, why, std::chrono::milliseconds(0));
        QTimer::singleShot(0, context ? context : this, [done = std::move(done), why] { done(false, why, MonitorRole::ReadOnly); });
        return;
    }

    const bool proven = !peer.isUnix && isProven(peer.address);
    bool admitted = false;
    bool guessed = false; // the token was looked at
    QString how;
    MonitorRole role = MonitorRole::ReadOnly; // what the credential allows; refusals allow nothing
    // A token, when one is given, must be right, whoever presents it: a wrong one is refused even
    // from a peer its uid would admit, or a stale or guessed token would go unnoticed (PROTOCOL
    // The uid admits only a local peer that presents none, and never a supervised
    // service's process unless its config says so.
    const std::optional<MonitorRole> byUid = peer.uid ? uidRole(*peer.uid) : std::nullopt;
    const bool uidAllowed = byUid.has_value();
    const bool serviceRefused = !peer.service.isEmpty() && !peer.serviceMayMonitor;
    if (token.isEmpty() && peer.isUnix && m_settings.allowLocalPeers && uidAllowed && !serviceRefused) {
        admitted = true;
        role = *byUid;
        how = QStringLiteral("peer uid ") + QString::number(*peer.uid);
    } else if (token.isEmpty()) {
        how = QStringLiteral("no token given");
        if (peer.isUnix && m_settings.allowLocalPeers && uidAllowed && serviceRefused) {
            ++m_servicesRefused;
            how = QStringLiteral("the peer is (a process of) service '%1', not admitted by its uid "
                                 "([service.%1] monitor is off); it needs the token")
                      .arg(peer.service);
        }
    } else if (m_tokenMac.isEmpty() && m_readOnlyTokenMac.isEmpty()) {
        how = QStringLiteral("this broker admits no monitor by token");
    } else if (!proven && !takeGuess(now)) {
        // Not looked at, not penalised, answered at once: the answer tells nothing about the token.
        ++m_failures;
        ++m_guessesRefused;
        const QString why = QStringLiteral("too many token attempts broker-wide (max_token_guesses_per_second %1); "
                                           "try again later")
                                .arg(m_settings.maxTokenGuessesPerSecond);
        logFailure(key, why, std::chrono::milliseconds(0));
        QTimer::singleShot(0, context ? context : this, [done = std::move(done), why] { done(false, why, MonitorRole::ReadOnly); });
        return;
    } else if (const std::optional<MonitorRole> byToken = tokenMatches(token)) {
        guessed = true;
        admitted = true;
        role = *byToken;
        how = role == MonitorRole::Operator ? QStringLiteral("token") : QStringLiteral("read-only token");
    } else {
        guessed = true;
        how = QStringLiteral("wrong token");
    }
    if (guessed && !peer.isUnix)
        setProven(peer.address, admitted, now);

    // The prefix's track: only for IPv4 (an IPv6 address key already is its /64), and not for a
    // proven address, whose neighbours' failures are not its own.
    const QString prefix = proven ? QString() : prefixKey(peer);
    const bool usePrefix = !prefix.isEmpty() && prefix != key;
    const bool addressTracked = t != nullptr;
    const bool prefixTracked = usePrefix && track(prefix, now) != nullptr; // may forget a decayed one

    std::chrono::milliseconds delay{0};
    quint64 trackId = 0;
    quint64 prefixTrackId = 0;
    if (!admitted || addressTracked || prefixTracked) {
        if (!m_tracks.contains(key))
            createTrack(key);
        if (usePrefix && !prefixTracked && !admitted)
            createTrack(prefix);
        if (!m_tracks.contains(key)) // a tracking limit of 1: the prefix's track evicted it
            createTrack(key);
        // QHash moves its values when it inserts or erases: the pointers are taken only now.
        t = &*m_tracks.find(key);
        const auto prefixIt = usePrefix ? m_tracks.find(prefix) : m_tracks.end();
        Track *p = prefixIt != m_tracks.end() ? &*prefixIt : nullptr;
        auto next = [this, admitted](const Track *track) {
            std::chrono::milliseconds applies = track->penalty;
            if (!admitted) {
                applies = track->penalty.count() == 0 ? m_settings.failureDelay : 2 * track->penalty;
                applies = std::clamp(applies, std::chrono::milliseconds(0), m_settings.failureDelayMax);
            }
            return applies;
        };
        const std::chrono::milliseconds addressApplies = next(t);
        const std::chrono::milliseconds prefixApplies = p ? next(p) : std::chrono::milliseconds(0);
        const std::chrono::milliseconds applies = std::max(addressApplies, prefixApplies);
        // One answer after the other: a queued answer's delay starts when the one before it goes out.
        Clock::time_point after = std::max(now, t->lastAnswer);
        if (p)
            after = std::max(after, p->lastAnswer);
        const Clock::time_point answerAt = after + applies;
        for (Track *track : {t, p}) {
            if (!track)
                continue;
            track->lastAnswer = answerAt;
            if (!admitted) {
                track->penalty = track == t ? addressApplies : prefixApplies;
                track->lastFailureAnswer = answerAt;
            }
            ++track->pending;
        }
        ++m_pendingTotal;
        trackId = t->id;
        prefixTrackId = p ? p->id : 0;
        delay = std::chrono::ceil<std::chrono::milliseconds>(answerAt - now);
    }

    if (admitted) {
        qCDebug(lcMonitorAuth).noquote() << "monitor admitted from" << key << "by" << how << "as" << monitorRoleName(role);
    } else {
        ++m_failures;
        logFailure(key, how, delay);
    }

    const bool hasContext = context != nullptr;
    QPointer<QObject> guard(context);
    QTimer::singleShot(int(delay.count()), Qt::PreciseTimer, this,
                       [this, key, trackId, prefix, prefixTrackId, hasContext, guard, done = std::move(done),
                        admitted, how, role] {
                           if (trackId != 0) {
                               --m_pendingTotal;
                               answered(key, trackId);
                           }
                           if (prefixTrackId != 0)
                               answered(prefix, prefixTrackId);
                           if (!hasContext || guard)
                               done(admitted, how, role);
                       });
}

void MonitorAuthenticator::answered(const QString &key, quint64 trackId)
{
    const auto it = m_tracks.find(key);
    // The track may have been forgotten (evicted) while the answer waited.
    if (it != m_tracks.end() && it->id == trackId && it->pending > 0)
        --it->pending;
}

void MonitorAuthenticator::logFailure(const QString &key, const QString &why, std::chrono::milliseconds delay)
{
    int suppressed = 0;
    if (!m_failureLog.allow(&suppressed))
        return;
    if (suppressed > 0)
        qCWarning(lcMonitorAuth).noquote() << suppressed << "more refused monitor attempts not logged";
    qCWarning(lcMonitorAuth).noquote() << "monitor refused from" << key << "-" << why << "(answer in"
                                       << delay.count() << "ms;" << m_failures << "refused in all)";
}

} // namespace Kennel
