#include "monitorlistener.h"

#include "monitorauthenticator.h"
#include "tcplistener.h"
#include "unixlistener.h"

#include <QDateTime>
#include <QFile>
#include <QHostAddress>
#include <QLocalSocket>
#include <QLoggingCategory>
#include <QSslCertificate>
#include <QSslCipher>
#include <QSslKey>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimer>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace Kennel {

namespace {

Q_LOGGING_CATEGORY(lcMonitorListener, "kennel.monitor", QtInfoMsg)

// Monitors are few; a deeper backlog would only hold more half-open connections.
constexpr int ListenBacklog = 64;
// A PEM certificate chain or key is a few KiB; anything this large is not one.
constexpr qint64 MaxPemFileBytes = 1024 * 1024;

QString ipOf(const QHostAddress &address)
{
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4);
    return isV4 ? QHostAddress(v4).toString() : address.toString();
}

QString peerOfDescriptor(int fd)
{
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (::getpeername(fd, reinterpret_cast<sockaddr *>(&storage), &length) != 0)
        return QStringLiteral("?");
    return ipOf(QHostAddress(reinterpret_cast<sockaddr *>(&storage)));
}

bool readPem(const QString &path, const char *what, QByteArray *data, QString *error)
{
    const QString label = QStringLiteral("monitor ") + QLatin1String(what) + QStringLiteral(" \"") + path
                          + QStringLiteral("\": ");
    if (path.isEmpty()) {
        *error = QStringLiteral("monitor ") + QLatin1String(what) + QStringLiteral(": not set (required with tls)");
        return false;
    }
    QFile file(path);
    if (!file.exists()) {
        *error = label + QStringLiteral("no such file");
        return false;
    }
    if (!file.open(QIODevice::ReadOnly)) {
        *error = label + QStringLiteral("cannot read: ") + file.errorString();
        return false;
    }
    if (file.size() > MaxPemFileBytes) {
        *error = label + QStringLiteral("larger than ") + QString::number(MaxPemFileBytes)
                 + QStringLiteral(" bytes; not a PEM file");
        return false;
    }
    *data = file.read(MaxPemFileBytes);
    return true;
}

const char *algorithmName(QSsl::KeyAlgorithm algorithm)
{
    switch (algorithm) {
    case QSsl::Rsa: return "RSA";
    case QSsl::Ec: return "EC";
    case QSsl::Dsa: return "DSA";
    case QSsl::Dh: return "DH";
    case QSsl::Opaque: return "opaque";
    }
    return "unknown";
}

} // namespace

MonitorListener::MonitorListener(const MonitorSettings &settings, QObject *parent)
    : QObject(parent)
    , m_settings(settings)
{
}

MonitorListener::~MonitorListener()
{
    close();
}

bool MonitorListener::loadTlsConfiguration(const QString &certificateFile, const QString &privateKeyFile,
                                           QSslConfiguration *configuration, QString *error)
{
    if (!QSslSocket::supportsSsl()) {
        *error = QStringLiteral("monitor tls: TLS is not available: Qt found no usable OpenSSL backend (")
                 + QSslSocket::activeBackend() + QLatin1Char(')');
        return false;
    }

    QByteArray certificateData;
    if (!readPem(certificateFile, "certificate", &certificateData, error))
        return false;
    const QList<QSslCertificate> chain = QSslCertificate::fromData(certificateData, QSsl::Pem);
    if (chain.isEmpty() || chain.constFirst().isNull()) {
        *error = QStringLiteral("monitor certificate \"") + certificateFile
                 + QStringLiteral("\": no PEM certificate in it (\"-----BEGIN CERTIFICATE-----\")");
        return false;
    }
    const QSslCertificate &leaf = chain.constFirst();
    // Not fatal: a monitor that pins the certificate does not care about its dates, and a board
    // without a real-time clock may not know the date yet.
    const QDateTime now = QDateTime::currentDateTimeUtc();
    if (leaf.expiryDate() < now) {
        qCWarning(lcMonitorListener).noquote() << "monitor certificate" << certificateFile << "expired on"
                                               << leaf.expiryDate().toString(Qt::ISODate);
    } else if (leaf.effectiveDate() > now) {
        qCWarning(lcMonitorListener).noquote() << "monitor certificate" << certificateFile << "is not valid before"
                                               << leaf.effectiveDate().toString(Qt::ISODate);
    }

    QByteArray keyData;
    if (!readPem(privateKeyFile, "private key", &keyData, error))
        return false;
    QSslKey key;
    for (QSsl::KeyAlgorithm algorithm : {QSsl::Rsa, QSsl::Ec, QSsl::Dsa}) {
        key = QSslKey(keyData, algorithm, QSsl::Pem, QSsl::PrivateKey);
        if (!key.isNull())
            break;
    }
    keyData.fill('\0');
    if (key.isNull()) {
        *error = QStringLiteral("monitor private key \"") + privateKeyFile
                 + QStringLiteral("\": no unencrypted PEM private key (RSA, EC or DSA) in it");
        return false;
    }
    const QSslKey publicKey = leaf.publicKey();
    if (!publicKey.isNull() && publicKey.algorithm() != key.algorithm()) {
        *error = QStringLiteral("monitor private key \"") + privateKeyFile + QStringLiteral("\": an ")
                 + QLatin1String(algorithmName(key.algorithm())) + QStringLiteral(" key, but certificate \"")
                 + certificateFile + QStringLiteral("\" is for an ") + QLatin1String(algorithmName(publicKey.algorithm()))
                 + QStringLiteral(" key; they are not a pair");
        return false;
    }
    struct stat st{};
    if (::stat(QFile::encodeName(privateKeyFile).constData(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        qCWarning(lcMonitorListener).noquote() << "monitor private key" << privateKeyFile
                                               << "is accessible by group or others; chmod 600 it";
    }

    QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
    tls.setLocalCertificateChain(chain);
    tls.setPrivateKey(key);
    tls.setProtocol(QSsl::TlsV1_2OrLater);
    // Monitors prove themselves with the token inside the stream, not with client certificates.
    tls.setPeerVerifyMode(QSslSocket::VerifyNone);
    *configuration = tls;
    return true;
}

bool MonitorListener::start(QString *error)
{
    close();
    if (m_settings.listen.isEmpty())
        return true;
    if (m_settings.tls && !loadTlsConfiguration(m_settings.certificateFile, m_settings.privateKeyFile, &m_tls, error))
        return false;

    for (const ListenAddress &address : std::as_const(m_settings.listen)) {
        if (address.kind == ListenAddress::Kind::Unix) {
            auto *listener = new UnixListener(this);
            listener->setListenBacklogSize(ListenBacklog);
            QString why;
            if (!listener->listenAt(address.path, &why)) {
                delete listener;
                close();
                *error = QStringLiteral("monitor listener: ") + why;
                return false;
            }
            connect(listener, &UnixListener::accepted, this, &MonitorListener::acceptUnix);
            m_unixListeners.append(listener);
            continue;
        }
        auto *listener = new TcpListener(this);
        listener->setListenBacklogSize(ListenBacklog);
        QHostAddress host;
        if (address.host == QLatin1String("*"))
            host = QHostAddress::Any;
        else if (address.host == QLatin1String("localhost"))
            host = QHostAddress::LocalHost;
        else
            host = QHostAddress(address.host);
        if (!listener->listen(host, address.port)) {
            *error = QStringLiteral("monitor listener: cannot listen on ") + address.toString() + QStringLiteral(": ")
                     + listener->errorString();
            delete listener;
            close();
            return false;
        }
        connect(listener, &TcpListener::accepted, this, &MonitorListener::acceptTcp);
        m_tcpListeners.append(listener);
    }
    for (const ListenAddress &address : boundAddresses()) {
        const bool tls = m_settings.tls && address.kind == ListenAddress::Kind::Tcp;
        qCInfo(lcMonitorListener).noquote() << "monitor listener on" << address.toString() << (tls ? "(TLS)" : "");
    }
    return true;
}

QList<ListenAddress> MonitorListener::boundAddresses() const
{
    QList<ListenAddress> bound;
    for (const TcpListener *listener : m_tcpListeners) {
        ListenAddress address;
        address.kind = ListenAddress::Kind::Tcp;
        address.host = listener->serverAddress().toString();
        address.port = listener->serverPort();
        bound.append(address);
    }
    for (const UnixListener *listener : m_unixListeners) {
        ListenAddress address;
        address.kind = ListenAddress::Kind::Unix;
        address.path = listener->fullServerName();
        bound.append(address);
    }
    return bound;
}

void MonitorListener::close()
{
    // Closed now (the port and the socket file are free at once), destroyed later: close() may
    // run inside one of their own signals.
    for (TcpListener *listener : std::as_const(m_tcpListeners)) {
        listener->close();
        listener->deleteLater();
    }
    m_tcpListeners.clear();
    // UnixListener::close() removes the socket file it created.
    for (UnixListener *listener : std::as_const(m_unixListeners)) {
        listener->close();
        listener->deleteLater();
    }
    m_unixListeners.clear();
    const QHash<QSslSocket *, QString> handshakes = std::exchange(m_handshakes, {});
    for (QSslSocket *socket : handshakes.keys()) {
        socket->disconnect(this);
        socket->abort();
        socket->deleteLater();
    }
}

void MonitorListener::logRefusal(const QString &what)
{
    int suppressed = 0;
    if (!m_log.allow(&suppressed))
        return;
    if (suppressed > 0)
        qCWarning(lcMonitorListener).noquote() << suppressed << "more monitor connection problems not logged";
    qCWarning(lcMonitorListener).noquote() << what;
}

void MonitorListener::acceptTcp(int fd)
{
    if (!m_settings.tls) {
        auto *socket = new QTcpSocket(this);
        if (!socket->setSocketDescriptor(fd)) {
            ++m_refused;
            logRefusal(QStringLiteral("monitor connection from ") + peerOfDescriptor(fd)
                       + QStringLiteral(" dropped: ") + socket->errorString());
            ::close(fd);
            delete socket;
            return;
        }
        Q_EMIT connectionReady(socket, ipOf(socket->peerAddress()), false, std::nullopt);
        return;
    }

    // Each handshake in progress costs a socket, OpenSSL state and a timer: bounded, and shared
    // out so that one address or network cannot take every place.
    const QString from = peerOfDescriptor(fd);
    if (const QString why = handshakeRefusal(from); !why.isEmpty()) {
        ++m_refused;
        logRefusal(QStringLiteral("monitor connection from ") + from + QStringLiteral(" refused: ") + why);
        ::close(fd);
        return;
    }
    auto *socket = new QSslSocket(this);
    socket->setSslConfiguration(m_tls);
    if (!socket->setSocketDescriptor(fd)) {
        ++m_refused;
        logRefusal(QStringLiteral("monitor connection from ") + peerOfDescriptor(fd) + QStringLiteral(" dropped: ")
                   + socket->errorString());
        ::close(fd);
        delete socket;
        return;
    }
    const QString peer = ipOf(socket->peerAddress());
    m_handshakes.insert(socket, peer);

    auto *timer = new QTimer(socket);
    timer->setSingleShot(true);
    const qint64 timeoutMs = m_settings.handshakeTimeout.count();
    connect(timer, &QTimer::timeout, this, [this, socket, peer, timeoutMs] {
        handshakeFailure(socket, peer, QStringLiteral("no TLS handshake within ") + QString::number(timeoutMs)
                                           + QStringLiteral(" ms"));
    });
    connect(socket, &QSslSocket::encrypted, this, [this, socket, timer, peer] {
        delete timer;
        handshakeDone(socket, peer);
    });
    connect(socket, &QSslSocket::sslErrors, this, [this, socket, peer](const QList<QSslError> &errors) {
        QStringList texts;
        for (const QSslError &e : errors)
            texts.append(e.errorString());
        handshakeFailure(socket, peer, texts.join(QStringLiteral("; ")));
    });
    connect(socket, &QAbstractSocket::errorOccurred, this, [this, socket, peer](QAbstractSocket::SocketError) {
        handshakeFailure(socket, peer, socket->errorString());
    });
    timer->start(m_settings.handshakeTimeout);
    socket->startServerEncryption();
}

int MonitorListener::handshakeLimit() const
{
    return std::max(16, 4 * m_settings.maxMonitors);
}

QString MonitorListener::handshakeRefusal(const QString &peer)
{
    MonitorAuthenticator::Peer who;
    who.address = peer;
    const QString key = MonitorAuthenticator::throttleKey(who);
    const QString prefix = MonitorAuthenticator::prefixKey(who);
    int sameAddress = 0;
    int samePrefix = 0;
    for (const QString &other : std::as_const(m_handshakes)) {
        MonitorAuthenticator::Peer them;
        them.address = other;
        if (MonitorAuthenticator::throttleKey(them) == key)
            ++sameAddress;
        if (!prefix.isEmpty() && MonitorAuthenticator::prefixKey(them) == prefix)
            ++samePrefix;
    }
    const bool proven = m_isProven && m_isProven(peer);
    const int addressCap = proven ? std::max(m_settings.maxWaitingPerAddress, m_settings.maxMonitors)
                                  : m_settings.maxWaitingPerAddress;
    if (sameAddress >= addressCap) {
        ++m_refusedPerAddress;
        return QString::number(sameAddress) + QStringLiteral(" TLS handshakes from this address already in progress (max_waiting_per_address)");
    }
    if (!proven && !prefix.isEmpty() && samePrefix >= m_settings.maxWaitingPerPrefix) {
        ++m_refusedPerPrefix;
        return QString::number(samePrefix) + QStringLiteral(" TLS handshakes from ") + prefix
               + QStringLiteral(" already in progress (max_waiting_per_prefix)");
    }
    const int limit = handshakeLimit() + (proven ? m_settings.maxMonitors : 0);
    if (m_handshakes.size() >= limit) {
        ++m_refusedFull;
        return QString::number(m_handshakes.size()) + QStringLiteral(" TLS handshakes already in progress");
    }
    return {};
}

void MonitorListener::handshakeDone(QSslSocket *socket, const QString &peer)
{
    if (!m_handshakes.remove(socket))
        return;
    // From here on the device is the receiver's: none of the handshake's connections stay.
    socket->disconnect(this);
    qCDebug(lcMonitorListener).noquote() << "monitor TLS handshake with" << peer << "done:"
                                         << socket->sessionProtocol() << socket->sessionCipher().name();
    Q_EMIT connectionReady(socket, peer, false, std::nullopt);
}

void MonitorListener::handshakeFailure(QSslSocket *socket, const QString &peer, const QString &reason)
{
    if (!m_handshakes.remove(socket))
        return;
    ++m_failedHandshakes;
    socket->disconnect(this);
    logRefusal(QStringLiteral("monitor TLS handshake with ") + peer + QStringLiteral(" failed: ") + reason);
    Q_EMIT handshakeFailed(peer, reason);
    socket->abort();
    socket->deleteLater();
}

void MonitorListener::acceptUnix(int fd)
{
    std::optional<uid_t> uid;
    ucred credentials{};
    socklen_t length = sizeof credentials;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0)
        uid = credentials.uid;
    auto *socket = new QLocalSocket(this);
    if (!socket->setSocketDescriptor(fd)) {
        ++m_refused;
        logRefusal(QStringLiteral("monitor connection on a Unix socket dropped: ") + socket->errorString());
        ::close(fd);
        delete socket;
        return;
    }
    Q_EMIT connectionReady(socket, QStringLiteral("unix"), true, uid);
}

} // namespace Kennel
