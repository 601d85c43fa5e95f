#include "mqttlink.h"

#include <QFile>
#include <QLoggingCategory>
#include <QSocketNotifier>

#include <mosquitto.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace Kennel {

Q_LOGGING_CATEGORY(lcMqtt, "kennel.mqtt", QtInfoMsg)

namespace {
struct LibInit
{
    LibInit() { mosquitto_lib_init(); }
    ~LibInit() { mosquitto_lib_cleanup(); }
};
void ensureLib()
{
    static LibInit init;
}
} // namespace

MqttLink::MqttLink(QObject *parent)
    : QObject(parent)
{
    ensureLib();
    m_miscTimer.setInterval(1000);
    connect(&m_miscTimer, &QTimer::timeout, this, [this] {
        if (m_mosq)
            check(mosquitto_loop_misc(m_mosq), "keepalive");
    });
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &MqttLink::attempt);
}

MqttLink::~MqttLink()
{
    stop();
}

const QLoggingCategory &MqttLink::category() const
{
    return m_options.logCategory ? m_options.logCategory() : lcMqtt();
}

void MqttLink::start(const Options &options)
{
    stop();
    m_options = options;
    m_running = true;
    m_backoff = std::chrono::milliseconds(0);
    attempt();
}

void MqttLink::stop()
{
    m_running = false;
    m_retryTimer.stop();
    const bool wasConnected = m_connected;
    m_connected = false; // a planned end: onDisconnect does not report it as lost
    if (m_mosq && wasConnected)
        mosquitto_disconnect(m_mosq); // a clean DISCONNECT: the will is not published
    dropInstance();
}

void MqttLink::dropInstance()
{
    m_miscTimer.stop();
    m_readNotifier.reset();
    m_writeNotifier.reset();
    m_fd = -1;
    if (m_mosq) {
        mosquitto_destroy(m_mosq);
        m_mosq = nullptr;
    }
}

void MqttLink::attempt()
{
    if (!m_running)
        return;
    dropInstance();
    m_mosq = mosquitto_new(m_options.clientId.constData(), m_options.cleanSession, this);
    if (!m_mosq) {
        lost(QStringLiteral("cannot create a mosquitto client"));
        return;
    }
    mosquitto_int_option(m_mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    // Small messages one at a time: without it Nagle and the peer's delayed ACK add ~40 ms a hop.
    mosquitto_int_option(m_mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(m_mosq, unsigned(std::max(1, m_options.inflight)));
    mosquitto_connect_callback_set(m_mosq, &MqttLink::onConnect);
    mosquitto_disconnect_callback_set(m_mosq, &MqttLink::onDisconnect);
    mosquitto_publish_callback_set(m_mosq, &MqttLink::onPublish);
    mosquitto_message_callback_set(m_mosq, &MqttLink::onMessage);
    if (!m_options.willTopic.isEmpty())
        mosquitto_will_set(m_mosq, m_options.willTopic.constData(), int(m_options.willPayload.size()),
                           m_options.willPayload.constData(), 1, true);
    if (!m_options.username.isEmpty())
        mosquitto_username_pw_set(m_mosq, m_options.username.constData(),
                                  m_options.password.isEmpty() ? nullptr : m_options.password.constData());
    if (m_options.tls) {
        const QByteArray ca = QFile::encodeName(m_options.caFile);
        const QByteArray cert = QFile::encodeName(m_options.certFile);
        const QByteArray key = QFile::encodeName(m_options.keyFile);
        const int rc = mosquitto_tls_set(m_mosq, ca.isEmpty() ? nullptr : ca.constData(), ca.isEmpty() ? "/etc/ssl/certs" : nullptr,
                                         cert.isEmpty() ? nullptr : cert.constData(), key.isEmpty() ? nullptr : key.constData(),
                                         nullptr);
        if (rc != MOSQ_ERR_SUCCESS) {
            lost(QStringLiteral("TLS settings refused: %1").arg(QString::fromUtf8(mosquitto_strerror(rc))));
            return;
        }
    }
    // Non-blocking connect: the CONNECT goes out when the socket becomes writable. Name resolution
    // is the one blocking step (getaddrinfo); an IP address or /etc/hosts name does not wait.
    const int rc = mosquitto_connect_async(m_mosq, m_options.host.toUtf8().constData(), m_options.port,
                                           m_options.keepaliveSeconds);
    if (rc != MOSQ_ERR_SUCCESS) {
        lost(QStringLiteral("cannot connect to %1:%2: %3")
                 .arg(m_options.host)
                 .arg(m_options.port)
                 .arg(QString::fromUtf8(rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc))));
        return;
    }
    m_miscTimer.start();
    syncNotifiers();
}

void MqttLink::syncNotifiers()
{
    if (!m_mosq)
        return;
    const int fd = mosquitto_socket(m_mosq);
    if (fd != m_fd) {
        m_readNotifier.reset();
        m_writeNotifier.reset();
        m_fd = fd;
        if (fd >= 0) {
            m_readNotifier = std::make_unique<QSocketNotifier>(fd, QSocketNotifier::Read);
            connect(m_readNotifier.get(), &QSocketNotifier::activated, this, [this] {
                if (m_mosq)
                    check(mosquitto_loop_read(m_mosq, 1), "read");
            });
            m_writeNotifier = std::make_unique<QSocketNotifier>(fd, QSocketNotifier::Write);
            connect(m_writeNotifier.get(), &QSocketNotifier::activated, this, [this] {
                if (m_mosq)
                    check(mosquitto_loop_write(m_mosq, 1), "write");
            });
        }
    }
    if (m_writeNotifier)
        m_writeNotifier->setEnabled(mosquitto_want_write(m_mosq));
}

void MqttLink::check(int rc, const char *what)
{
    if (rc == MOSQ_ERR_SUCCESS) {
        syncNotifiers();
        return;
    }
    const QString why = rc == MOSQ_ERR_ERRNO ? QString::fromLocal8Bit(strerror(errno))
                                             : QString::fromUtf8(mosquitto_strerror(rc));
    lost(QStringLiteral("%1: %2").arg(QLatin1String(what), why));
}

void MqttLink::lost(const QString &why)
{
    const bool wasConnected = m_connected;
    m_connected = false;
    m_lastError = why;
    // Not from inside libmosquitto's own call stack: the instance is destroyed on the next pass.
    QMetaObject::invokeMethod(this, [this, mosq = m_mosq] {
        if (m_mosq == mosq && !m_connected)
            dropInstance();
    }, Qt::QueuedConnection);
    m_readNotifier.reset();
    m_writeNotifier.reset();
    m_fd = -1;
    m_miscTimer.stop();
    if (wasConnected) {
        ++m_disconnects;
        Q_EMIT disconnected(why);
    }
    if (!m_running)
        return;
    m_backoff = m_backoff.count() == 0 ? m_options.reconnectMin : std::min(m_backoff * 2, m_options.reconnectMax);
    if (!m_retryTimer.isActive()) {
        qCInfo(category()).noquote() << "MQTT link to" << m_options.host + QLatin1Char(':') + QString::number(m_options.port)
                                   << (wasConnected ? "lost:" : "not up:") << why << "- retrying in"
                                   << m_backoff.count() << "ms";
        m_retryTimer.start(m_backoff);
    }
}

int MqttLink::publish(const QByteArray &topic, const QByteArray &payload, bool retain, int qos)
{
    if (!m_mosq || !m_connected)
        return -1;
    int mid = -1;
    const int rc = mosquitto_publish(m_mosq, &mid, topic.constData(), int(payload.size()), payload.constData(), qos, retain);
    if (rc != MOSQ_ERR_SUCCESS) {
        if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST)
            check(rc, "publish");
        return -1;
    }
    syncNotifiers();
    return mid;
}

bool MqttLink::subscribe(const QByteArray &filter)
{
    if (!m_mosq)
        return false;
    const bool ok = mosquitto_subscribe(m_mosq, nullptr, filter.constData(), 1) == MOSQ_ERR_SUCCESS;
    syncNotifiers();
    return ok;
}

bool MqttLink::unsubscribe(const QByteArray &filter)
{
    if (!m_mosq)
        return false;
    const bool ok = mosquitto_unsubscribe(m_mosq, nullptr, filter.constData()) == MOSQ_ERR_SUCCESS;
    syncNotifiers();
    return ok;
}

void MqttLink::onConnect(mosquitto *, void *self, int rc)
{
    auto *link = static_cast<MqttLink *>(self);
    if (rc != 0) {
        // Refused by the broker (bad credentials, client id): the link will be dropped and retried.
        link->m_lastError = QStringLiteral("CONNACK refused: %1").arg(QString::fromUtf8(mosquitto_connack_string(rc)));
        qCWarning(link->category()).noquote() << "MQTT broker refused the connection:" << link->m_lastError;
        return;
    }
    link->m_connected = true;
    link->m_backoff = std::chrono::milliseconds(0);
    ++link->m_connects;
    Q_EMIT link->connected();
}

void MqttLink::onDisconnect(mosquitto *, void *self, int rc)
{
    auto *link = static_cast<MqttLink *>(self);
    if (link->m_connected || rc != 0)
        link->lost(QStringLiteral("disconnected (%1)").arg(QString::fromUtf8(mosquitto_strerror(rc))));
}

void MqttLink::onPublish(mosquitto *, void *self, int mid)
{
    Q_EMIT static_cast<MqttLink *>(self)->published(mid);
}

void MqttLink::onMessage(mosquitto *, void *self, const mosquitto_message *message)
{
    auto *link = static_cast<MqttLink *>(self);
    link->m_messageRetained = message->retain;
    Q_EMIT link->messageReceived(QByteArray(message->topic),
                                 QByteArray(static_cast<const char *>(message->payload), message->payloadlen));
    link->m_messageRetained = false;
}

} // namespace Kennel
