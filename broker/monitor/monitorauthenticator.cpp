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
}

MonitorAuthenticator::~MonitorAuthenticator() = default;

bool MonitorAuthenticator::load(QString *error)
{
    if (m_tokenConfigured && !m_settings.tokenFile.isEmpty()) {
        *error = QStringLiteral("monitor: token and token_file are both set; give one of them");
        return false;
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

void MonitorAuthenticator::setToken(const QByteArray &token)
{
    m_tokenMac = token.isEmpty() ? QByteArray() : mac(token);
    // Only the digest is needed from here on; keep no second copy of the secret around.
    m_settings.token.fill('\0');
    m_settings.token.clear();
}

QByteArray MonitorAuthenticator::mac(QByteArrayView token) const
{
    QMessageAuthenticationCode code(QCryptographicHash::Sha256, m_macKey);
    code.addData(token.data(), token.size());
    return code.result();
}

bool MonitorAuthenticator::tokenMatches(QByteArrayView token) const
{
    // An over-long token is refused unhashed: its length is the sender's own, nothing to hide.
    if (m_tokenMac.isEmpty() || token.isEmpty() || token.size() > MonitorToken::MaxLength)
        return false;
    return constantTimeEqual(mac(token), m_tokenMac);
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

void MonitorAuthenticator::authenticate(const Peer &peer, QByteArrayView token, QObject *context,
                                        std::function<void(bool admitted, const QString &how)> done)
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
        QTimer::singleShot(0, context ? context : this, [done = std::move(done), why] { done(false, why); });
        return;
    }

    bool admitted = false;
    QString how;
    // A token, when one is given, must be right, whoever presents it: a wrong one is refused even
    // from a peer its uid would admit, or a stale or guessed token would go unnoticed (PROTOCOL
    // The uid admits only a local peer that presents none.
    if (token.isEmpty() && peer.isUnix && m_settings.allowLocalPeers && peer.uid
        && (*peer.uid == 0 || *peer.uid == ::geteuid())) {
        admitted = true;
        how = QStringLiteral("peer uid ") + QString::number(*peer.uid);
    } else if (token.isEmpty()) {
        how = QStringLiteral("no token given");
    } else if (m_tokenMac.isEmpty()) {
        how = QStringLiteral("this broker admits no monitor by token");
    } else if (tokenMatches(token)) {
        admitted = true;
        how = QStringLiteral("token");
    } else {
        how = QStringLiteral("wrong token");
    }

    std::chrono::milliseconds delay{0};
    quint64 trackId = 0;
    if (!admitted || t) {
        if (!t) {
            while (int(m_tracks.size()) >= m_maxTracked)
                evictOldest();
            m_lru.push_back(key);
            Track fresh;
            fresh.id = m_nextTrackId++;
            fresh.lru = std::prev(m_lru.end());
            t = &*m_tracks.insert(key, fresh);
        }
        std::chrono::milliseconds applies = t->penalty;
        if (!admitted) {
            applies = t->penalty.count() == 0 ? m_settings.failureDelay : 2 * t->penalty;
            applies = std::clamp(applies, std::chrono::milliseconds(0), m_settings.failureDelayMax);
        }
        // One answer after the other: a queued answer's delay starts when the one before it goes out.
        const Clock::time_point answerAt = std::max(now, t->lastAnswer) + applies;
        t->lastAnswer = answerAt;
        if (!admitted) {
            t->penalty = applies;
            t->lastFailureAnswer = answerAt;
        }
        ++t->pending;
        ++m_pendingTotal;
        trackId = t->id;
        delay = std::chrono::ceil<std::chrono::milliseconds>(answerAt - now);
    }

    if (admitted) {
        qCDebug(lcMonitorAuth).noquote() << "monitor admitted from" << key << "by" << how;
    } else {
        ++m_failures;
        logFailure(key, how, delay);
    }

    const bool hasContext = context != nullptr;
    QPointer<QObject> guard(context);
    QTimer::singleShot(int(delay.count()), Qt::PreciseTimer, this,
                       [this, key, trackId, hasContext, guard, done = std::move(done), admitted, how] {
                           if (trackId != 0)
                               answered(key, trackId);
                           if (!hasContext || guard)
                               done(admitted, how);
                       });
}

void MonitorAuthenticator::answered(const QString &key, quint64 trackId)
{
    --m_pendingTotal;
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
