#include "topiccodec.h"

#include "framecodec.h"

#include <QtEndian>

#include <cstring>

namespace Kennel {

namespace {

void put16(QByteArray &out, quint16 v)
{
    char b[2];
    qToBigEndian<quint16>(v, b);
    out.append(b, 2);
}

void put32(QByteArray &out, quint32 v)
{
    char b[4];
    qToBigEndian<quint32>(v, b);
    out.append(b, 4);
}

quint16 get16(QByteArrayView in, qsizetype at)
{
    return qFromBigEndian<quint16>(in.data() + at);
}

quint32 get32(QByteArrayView in, qsizetype at)
{
    return qFromBigEndian<quint32>(in.data() + at);
}

// A u16-length-prefixed field at the start of `payload`; nullopt if it runs past the end.
std::optional<QByteArrayView> lengthPrefixed(QByteArrayView payload, qsizetype *end)
{
    if (payload.size() < 2)
        return std::nullopt;
    const qsizetype length = get16(payload, 0);
    if (payload.size() < 2 + length)
        return std::nullopt;
    *end = 2 + length;
    return payload.sliced(2, length);
}

} // namespace

QByteArray encodeTopicFilter(QByteArrayView filter)
{
    Q_ASSERT(filter.size() <= 0xFFFF);
    QByteArray out;
    out.reserve(2 + filter.size());
    put16(out, quint16(filter.size()));
    out.append(filter);
    return out;
}

std::optional<QByteArrayView> decodeTopicFilter(QByteArrayView payload)
{
    qsizetype end = 0;
    return lengthPrefixed(payload, &end);
}

QByteArray encodeTopicMessage(QByteArrayView topic, QByteArrayView message)
{
    Q_ASSERT(topic.size() <= 0xFFFF);
    QByteArray out;
    out.reserve(2 + topic.size() + message.size());
    put16(out, quint16(topic.size()));
    out.append(topic);
    out.append(message);
    return out;
}

std::optional<TopicMessage> decodeTopicMessage(QByteArrayView payload)
{
    qsizetype end = 0;
    const std::optional<QByteArrayView> topic = lengthPrefixed(payload, &end);
    if (!topic)
        return std::nullopt;
    return TopicMessage{*topic, payload.sliced(end)};
}

QByteArray encodeTopicAck(const TopicAckPayload &ack)
{
    QByteArray out;
    put16(out, quint16(ack.result));
    put32(out, ack.count);
    out.append(ack.text.toUtf8());
    return out;
}

std::optional<TopicAckPayload> decodeTopicAck(QByteArrayView payload)
{
    if (payload.size() < 6)
        return std::nullopt;
    TopicAckPayload ack;
    ack.result = ErrorCode(get16(payload, 0));
    ack.count = get32(payload, 2);
    ack.text = QString::fromUtf8(payload.sliced(6));
    return ack;
}

QByteArray encodePublishStatus(const PublishStatusPayload &status)
{
    QByteArray out;
    put16(out, quint16(status.result));
    put32(out, status.delivered);
    put32(out, status.notTaken);
    out.append(status.text.toUtf8());
    return out;
}

std::optional<PublishStatusPayload> decodePublishStatus(QByteArrayView payload)
{
    if (payload.size() < 10)
        return std::nullopt;
    PublishStatusPayload status;
    status.result = ErrorCode(get16(payload, 0));
    status.delivered = get32(payload, 2);
    status.notTaken = get32(payload, 6);
    status.text = QString::fromUtf8(payload.sliced(10));
    return status;
}

size_t publicationFrameSize(QByteArrayView source, QByteArrayView topic, QByteArrayView message)
{
    return size_t(Wire::HeaderSize) + size_t(source.size()) + 2 + size_t(topic.size()) + size_t(message.size());
}

void writePublication(char *dst, quint32 messageId, quint16 flags, QByteArrayView source, QByteArrayView topic,
                      QByteArrayView message)
{
    Q_ASSERT(source.size() <= Wire::MaxNameLength && topic.size() <= 0xFFFF);
    const size_t body = publicationFrameSize(source, topic, message) - size_t(Wire::HeaderSize);
    writeHeader(dst, FrameType::Publication, quint32(body), messageId, quint8(source.size()), 0, flags);
    char *p = dst + Wire::HeaderSize;
    if (!source.isEmpty())
        std::memcpy(p, source.data(), size_t(source.size()));
    p += source.size();
    qToBigEndian<quint16>(quint16(topic.size()), p);
    p += 2;
    if (!topic.isEmpty())
        std::memcpy(p, topic.data(), size_t(topic.size()));
    p += topic.size();
    if (!message.isEmpty())
        std::memcpy(p, message.data(), size_t(message.size()));
}

} // namespace Kennel
