// The bridge's topics and payloads on the MQTT broker (docs/FLEET.md, "Topic scheme"): pure
// functions, no sockets, so the scheme has one definition and a unit test.
//
//   PREFIX(B)msg/ORIGIN     directed messages for board B from board ORIGIN (QoS 1)
//   PREFIX(ORIGIN)status/B  final delivery statuses board B sends back to ORIGIN (QoS 1)
//   PREFIX(B)online         "true" (retained) while B is connected; "false" by its last will
//   PREFIX(B)summary        retained JSON summary of B
//   PREFIX(B)events         JSON events of B (expiry, kill, restart, service failed)
#pragma once

#include "frame.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <optional>

namespace Kennel::BridgeWire {

// PREFIX for one board: the configured prefix with {board} replaced.
QString boardPrefix(const QString &prefixTemplate, QByteArrayView board);

// A directed message on its way to another board.
struct Message
{
    quint64 epoch = 0;       // the origin's spool file (random at its creation): a new file, new numbering
    quint64 seq = 0;         // the origin board's spool sequence: unique per spool file, never reused
    quint32 messageId = 0;   // the sending client's message id, given to the receiver as is
    bool wantStatus = false; // the origin waits for a final status
    QByteArray sender;       // the sender's name on the origin board
    QByteArray target;       // the name on the target board
    QByteArray payload;
};
QByteArray encodeMessage(const Message &message);
// Where encodeMessage put the sequence: the spool stores a message before its row numbers it.
constexpr int MessageSeqOffset = 12;
void patchSeq(QByteArray &encoded, quint64 seq);
std::optional<Message> decodeMessage(QByteArrayView data);

struct Status
{
    quint64 seq = 0;
    DeliveryStatus status = DeliveryStatus::Delivered;
};
QByteArray encodeStatus(const Status &status);
std::optional<Status> decodeStatus(QByteArrayView data);

} // namespace Kennel::BridgeWire
