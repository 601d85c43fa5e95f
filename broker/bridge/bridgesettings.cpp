#include "bridgesettings.h"

#include "mqtturl.h"
#include "names.h"


namespace Kennel {

bool BridgeSettings::linkDiffers(const BridgeSettings &o) const
{
    return url != o.url || board != o.board || prefix != o.prefix || clientId != o.clientId
        || keepaliveSeconds != o.keepaliveSeconds || username != o.username || passwordFile != o.passwordFile
        || caFile != o.caFile || certFile != o.certFile || keyFile != o.keyFile || inflight != o.inflight;
}

bool BridgeSettings::operator==(const BridgeSettings &o) const
{
    return !linkDiffers(o) && spoolPath == o.spoolPath && spoolMaxBytes == o.spoolMaxBytes
        && spoolSyncFull == o.spoolSyncFull && statusTimeout == o.statusTimeout && reconnectMin == o.reconnectMin
        && reconnectMax == o.reconnectMax && summaryInterval == o.summaryInterval && dedupWindow == o.dedupWindow
        && exportTopics == o.exportTopics && importTopics == o.importTopics && exportMaxPending == o.exportMaxPending
        && dedupOrigins == o.dedupOrigins && monitorAddress == o.monitorAddress;
}

// The forms live in clientlib/mqtt/ (KennelMqtt), so that the fleet view takes exactly these.
BridgeUrl parseBridgeUrl(const QString &text)
{
    const MqttUrl url = parseMqttUrl(text, QStringLiteral("[bridge] username and password_file"));
    return BridgeUrl{url.ok, url.tls, url.host, url.port, url.error};
}

bool isValidBoard(QByteArrayView board)
{
    return isValidName(board, MaxBoardLength);
}

} // namespace Kennel
