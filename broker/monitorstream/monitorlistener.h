// The monitor-only listeners ([monitor] listen): typically the board's network address with TLS,
// while the client listeners stay on loopback. Unlike the client listeners, whose connections
// become raw-descriptor Sessions on the epoll loop, a monitor connection is a QIODevice: there are
// a handful of them, TLS needs QSslSocket, and the monitor stream is not the routing hot path.
//
// This class only gets connections to the point where the Hello can be read: accepted, the TLS
// handshake completed (within handshakeTimeout, so half-open connections cannot pile up), the
// peer's address and, on a Unix socket, its user from the kernel. Who the peer is allowed to be
// is MonitorAuthenticator's business.
//
// Handshakes in progress (idle connections must not lock operators out): at most
// max_waiting_per_address from one address and max_waiting_per_prefix from one /24 (IPv4) or
// /64 (IPv6), and at most handshakeLimit() in all; an address proven by the right token recently
// (setProvenCheck) may have max(its address's cap, maxMonitors), no prefix cap, and maxMonitors
// places beyond the total.
#pragma once

#include "brokerconfig.h"
#include "logthrottle.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>

#include <functional>
#include <QSslConfiguration>
#include <QString>

#include <optional>
#include <sys/types.h>

class QIODevice;
class QSslSocket;

namespace Kennel {

class TcpListener;
class UnixListener;

class MonitorListener : public QObject
{
    Q_OBJECT
public:
    explicit MonitorListener(const MonitorSettings &settings, QObject *parent = nullptr);
    ~MonitorListener() override;

    // Opens every address of settings.listen; true and nothing when it is empty. With tls, loads
    // and checks the certificate and key first; a file that cannot be used fails start() with an
    // error naming it. On failure nothing stays open.
    bool start(QString *error);
    // The addresses actually bound (port 0 resolved).
    QList<ListenAddress> boundAddresses() const;
    // Stops listening and drops the handshakes in progress. Devices already handed out stay.
    void close();

    // Loads a PEM certificate (chain) and private key into a server-side TLS configuration.
    // False with *error naming the file that is wrong and how.
    static bool loadTlsConfiguration(const QString &certificateFile, const QString &privateKeyFile,
                                     QSslConfiguration *configuration, QString *error);

    // --- diagnostics and tests ---
    int pendingHandshakes() const { return int(m_handshakes.size()); }
    // max(16, 4 x max_monitors), like the hub's waiting room.
    int handshakeLimit() const;
    // Whether an address presented the right token recently (MonitorAuthenticator::isProven).
    void setProvenCheck(std::function<bool(const QString &address)> check) { m_isProven = std::move(check); }
    // Of refusedConnections(): by the per-address cap, the per-prefix cap, the total.
    quint64 refusedPerAddress() const { return m_refusedPerAddress; }
    quint64 refusedPerPrefix() const { return m_refusedPerPrefix; }
    quint64 refusedFull() const { return m_refusedFull; }
    quint64 failedHandshakes() const { return m_failedHandshakes; }
    quint64 refusedConnections() const { return m_refused; } // over the handshake bound, or unusable

signals:
    // TLS handshake done if tls. device: QTcpSocket / QSslSocket / QLocalSocket parented to the
    // listener; the receiver takes ownership and reads the Hello from it. Bytes may already be
    // buffered (a client may send its Hello right behind the handshake): read bytesAvailable()
    // before waiting for readyRead. peerAddress: the IP literal (IPv4-mapped IPv6 as IPv4), or
    // "unix"; peerUid: the Unix peer's user from the kernel.
    void connectionReady(QIODevice *device, const QString &peerAddress, bool isUnix, std::optional<uid_t> peerUid);
    // A TLS handshake failed or timed out; the connection has been closed.
    void handshakeFailed(const QString &peerAddress, const QString &reason);

private:
    void acceptTcp(int fd);
    void acceptUnix(int fd);
    void handshakeDone(QSslSocket *socket, const QString &peer);
    void handshakeFailure(QSslSocket *socket, const QString &peer, const QString &reason);
    void logRefusal(const QString &what);

    MonitorSettings m_settings;
    QSslConfiguration m_tls;
    QList<TcpListener *> m_tcpListeners;
    QList<UnixListener *> m_unixListeners;
    QString handshakeRefusal(const QString &peer);

    QHash<QSslSocket *, QString> m_handshakes; // -> the peer's address
    std::function<bool(const QString &)> m_isProven;
    quint64 m_refusedPerAddress = 0;
    quint64 m_refusedPerPrefix = 0;
    quint64 m_refusedFull = 0;
    quint64 m_failedHandshakes = 0;
    quint64 m_refused = 0;
    LogThrottle m_log;
};

} // namespace Kennel
