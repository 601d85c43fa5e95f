#include "bridgewire.h"

#include "names.h"

#include <QtEndian>

#include <cstring>

namespace Kennel::BridgeWire {

namespace {
// Versioned magics: a board running a later scheme is refused in the log, not misread.
constexpr char MessageMagic[4] = {'K', 'B', 'M', '1'};
constexpr char StatusMagic[4] = {'K', 'B', 'S', '1'};
constexpr quint8 FlagWantStatus = 0x01;
} // namespace

QString boardPrefix(const QString &prefixTemplate, QByteArrayView board)
{
    QString prefix = prefixTemplate;
    prefix.replace(QLatin1String("{board}"), QString::fromLatin1(board.toByteArray()));
    return prefix;
}

// magic(4) epoch(u64) seq(u64) messageId(u32) flags(u8) senderLen(u8) sender targetLen(u8) target payload
QByteArray encodeMessage(const Message &m)
{
    QByteArray out;
    out.reserve(4 + 8 + 8 + 4 + 3 + m.sender.size() + m.target.size() + m.payload.size());
    out.append(MessageMagic, 4);
    char buf[8];
    qToBigEndian<quint64>(m.epoch, buf);
    out.append(buf, 8);
    qToBigEndian<quint64>(m.seq, buf);
    out.append(buf, 8);
    qToBigEndian<quint32>(m.messageId, buf);
    out.append(buf, 4);
    out.append(char(m.wantStatus ? FlagWantStatus : 0));
    out.append(char(quint8(m.sender.size())));
    out.append(m.sender);
    out.append(char(quint8(m.target.size())));
    out.append(m.target);
    out.append(m.payload);
    return out;
}

std::optional<Message> decodeMessage(QByteArrayView d)
{
    if (d.size() < 4 + 8 + 8 + 4 + 1 + 1 || !d.startsWith(QByteArrayView(MessageMagic, 4)))
        return std::nullopt;
    const auto *p = reinterpret_cast<const uchar *>(d.data());
    Message m;
    m.epoch = qFromBigEndian<quint64>(p + 4);
    m.seq = qFromBigEndian<quint64>(p + MessageSeqOffset);
    m.messageId = qFromBigEndian<quint32>(p + 20);
    m.wantStatus = p[24] & FlagWantStatus;
    qsizetype at = 25;
    const qsizetype senderLen = p[at++];
    if (at + senderLen + 1 > d.size())
        return std::nullopt;
    m.sender = d.sliced(at, senderLen).toByteArray();
    at += senderLen;
    const qsizetype targetLen = p[at++];
    if (at + targetLen > d.size())
        return std::nullopt;
    m.target = d.sliced(at, targetLen).toByteArray();
    at += targetLen;
    m.payload = d.sliced(at).toByteArray();
    if (!isValidName(m.sender) || !isValidName(m.target))
        return std::nullopt;
    return m;
}

void patchSeq(QByteArray &encoded, quint64 seq)
{
    if (encoded.size() >= MessageSeqOffset + 8)
        qToBigEndian<quint64>(seq, encoded.data() + MessageSeqOffset);
}

QByteArray encodeStatus(const Status &s)
{
    QByteArray out(4 + 8 + 2, Qt::Uninitialized);
    std::memcpy(out.data(), StatusMagic, 4);
    qToBigEndian<quint64>(s.seq, out.data() + 4);
    qToBigEndian<quint16>(quint16(s.status), out.data() + 12);
    return out;
}

std::optional<Status> decodeStatus(QByteArrayView d)
{
    if (d.size() != 14 || !d.startsWith(QByteArrayView(StatusMagic, 4)))
        return std::nullopt;
    const auto *p = reinterpret_cast<const uchar *>(d.data());
    return Status{qFromBigEndian<quint64>(p + 4), DeliveryStatus(qFromBigEndian<quint16>(p + 12))};
}

} // namespace Kennel::BridgeWire
