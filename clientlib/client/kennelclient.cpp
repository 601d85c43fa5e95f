#include "kennelclient.h"

#include "callbook.h"
#include "clientconnection.h"
#include "topicname.h"

#include <QCoreApplication>

namespace Kennel {

using Kennel::Internal::ClientConnection;

KennelClient::KennelClient(QObject *parent)
    : QObject(parent)
    , d(new ClientConnection(this))
{
    d->pid = quint32(QCoreApplication::applicationPid());
}

KennelClient::~KennelClient()
{
    d->shutdownSilently();
    delete d;
}

void KennelClient::setBrokerAddress(const BrokerAddress &address)
{
    d->options().address = address;
}

BrokerAddress KennelClient::brokerAddress() const
{
    return d->options().address;
}

void KennelClient::setName(const QByteArray &name)
{
    d->name = name;
}

QByteArray KennelClient::name() const
{
    return d->name;
}

void KennelClient::setPid(quint32 pid)
{
    d->pid = pid;
}

quint32 KennelClient::pid() const
{
    return d->pid;
}

void KennelClient::setConnectTimeout(std::chrono::milliseconds timeout)
{
    d->options().handshakeTimeout = std::max(timeout, std::chrono::milliseconds(1));
}

std::chrono::milliseconds KennelClient::connectTimeout() const
{
    return d->options().handshakeTimeout;
}

void KennelClient::setAutoReconnect(bool enable)
{
    d->options().autoReconnect = enable;
}

bool KennelClient::autoReconnect() const
{
    return d->options().autoReconnect;
}

void KennelClient::setReconnectBackoff(std::chrono::milliseconds min, std::chrono::milliseconds max)
{
    d->options().backoffMin = std::max(min, std::chrono::milliseconds(1));
    d->options().backoffMax = std::max(max, d->options().backoffMin);
}

std::chrono::milliseconds KennelClient::reconnectBackoffMin() const
{
    return d->options().backoffMin;
}

std::chrono::milliseconds KennelClient::reconnectBackoffMax() const
{
    return d->options().backoffMax;
}

void KennelClient::setSendQueueLimits(int maxMessages, qint64 maxBytes)
{
    d->queueMaxMessages = std::max(maxMessages, 0);
    d->queueMaxBytes = std::max<qint64>(maxBytes, 0);
}

int KennelClient::sendQueueMaxMessages() const
{
    return d->queueMaxMessages;
}

qint64 KennelClient::sendQueueMaxBytes() const
{
    return d->queueMaxBytes;
}

int KennelClient::queuedSendCount() const
{
    return int(d->queuedCount());
}

qint64 KennelClient::queuedSendBytes() const
{
    return d->queuedBytes();
}

void KennelClient::setTransport(QIODevice *device)
{
    d->setTransport(device);
}

QIODevice *KennelClient::transport() const
{
    if (QIODevice *current = d->transport())
        return current;
    return d->pendingTransport();
}

KennelClient::State KennelClient::state() const
{
    return d->state;
}

KennelClient::ClientError KennelClient::error() const
{
    return d->error;
}

QString KennelClient::errorString() const
{
    return d->errorString;
}

bool KennelClient::reconnectPending() const
{
    return d->reconnectPending();
}

QByteArray KennelClient::brokerVersion() const
{
    return d->brokerVersion;
}

quint32 KennelClient::brokerMaxFrameSize() const
{
    return d->brokerMaxFrameSize;
}

quint32 KennelClient::brokerFeatures() const
{
    return d->brokerFeatures;
}

void KennelClient::connectToBroker()
{
    d->connectToBroker();
}

void KennelClient::disconnectFromBroker()
{
    d->disconnectFromBroker();
}

quint32 KennelClient::send(const QByteArray &target, const QByteArray &payload, bool wantStatus)
{
    return d->send(target, payload, wantStatus);
}

void KennelClient::registerWatchdog(const Kennel::WatchdogTerms &terms)
{
    d->watchdogTerms = terms;
    d->sendWatchdogTerms();
}

bool KennelClient::feedWatchdog()
{
    return d->sendWhenRegistered(Kennel::FrameType::WatchdogFeed, {});
}

bool KennelClient::ping()
{
    return d->sendWhenRegistered(Kennel::FrameType::Ping, {});
}

Kennel::PendingCall *KennelClient::call(const QByteArray &target, const QByteArray &payload, int timeoutMs)
{
    return d->calls->call(target, payload, timeoutMs);
}

void KennelClient::setCallHandler(std::function<void(Kennel::IncomingCall *)> handler)
{
    d->calls->setHandler(std::move(handler));
}

bool KennelClient::subscribe(const QByteArray &filter)
{
    return d->topics.subscribe(filter, d->topicsLive());
}

bool KennelClient::unsubscribe(const QByteArray &filter)
{
    return d->topics.unsubscribe(filter, d->topicsLive());
}

QList<QByteArray> KennelClient::subscriptions() const
{
    return d->topics.filters();
}

quint32 KennelClient::publish(const QByteArray &topic, const QByteArray &payload, bool retain, bool wantStatus)
{
    return d->publish(topic, payload, retain, wantStatus);
}

} // namespace Kennel
