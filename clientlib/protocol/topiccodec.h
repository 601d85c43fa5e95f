// Payload layouts of the topic frames (PROTOCOL §5.5): pure functions, bytes in and out, shared
// by the broker, the client library and the fuzzer. Integers are big-endian like the header's.
#pragma once

#include "frame.h"
#include "kennel_export.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <cstddef>
#include <optional>

namespace Kennel {

// Subscribe and Unsubscribe: u16 filter length, the filter. Bytes after it are reserved (ignored).
KENNEL_CLIENT_EXPORT QByteArray encodeTopicFilter(QByteArrayView filter);
KENNEL_CLIENT_EXPORT std::optional<QByteArrayView> decodeTopicFilter(QByteArrayView payload);

// Publish and Publication: u16 topic length, the topic, the message (the rest, opaque bytes).
struct TopicMessage
{
    QByteArrayView topic;
    QByteArrayView message;
};
KENNEL_CLIENT_EXPORT QByteArray encodeTopicMessage(QByteArrayView topic, QByteArrayView message);
KENNEL_CLIENT_EXPORT std::optional<TopicMessage> decodeTopicMessage(QByteArrayView payload);

// TopicAck: u16 result (0 done, else an ErrorCode), u32 count, the rest UTF-8 text (why, when refused).
// count: for a Subscribe, the retained publications that matched (they follow the ack); for an
// Unsubscribe, 1 if the filter was removed, 0 if the client did not hold it.
struct TopicAckPayload
{
    ErrorCode result = ErrorCode::None;
    quint32 count = 0;
    QString text;
};
KENNEL_CLIENT_EXPORT QByteArray encodeTopicAck(const TopicAckPayload &ack);
KENNEL_CLIENT_EXPORT std::optional<TopicAckPayload> decodeTopicAck(QByteArrayView payload);

// PublishStatus: u16 result, u32 delivered, u32 not taken, the rest UTF-8 text.
struct PublishStatusPayload
{
    ErrorCode result = ErrorCode::None; // RetainedStoreFull: delivered, but not kept
    quint32 delivered = 0;              // subscribers it was queued to
    quint32 notTaken = 0;               // subscribers whose queue was full or that cannot carry it
    QString text;
};
KENNEL_CLIENT_EXPORT QByteArray encodePublishStatus(const PublishStatusPayload &status);
KENNEL_CLIENT_EXPORT std::optional<PublishStatusPayload> decodePublishStatus(QByteArrayView payload);

// A whole Publication frame, written in place (the broker encodes one and hands the same bytes to
// every subscriber): header, source = the publisher's name, empty target, topic message payload.
KENNEL_CLIENT_EXPORT size_t publicationFrameSize(QByteArrayView source, QByteArrayView topic, QByteArrayView message);
KENNEL_CLIENT_EXPORT void writePublication(char *dst, quint32 messageId, quint16 flags, QByteArrayView source,
                                           QByteArrayView topic, QByteArrayView message);

} // namespace Kennel
