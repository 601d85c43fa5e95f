#include "bridgesettings.h"

#include "names.h"

#include <QUrl>

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
        && reconnectMax == o.reconnectMax && summaryInterval == o.summaryInterval && dedupWindow == o.dedupWindow;
}

BridgeUrl parseBridgeUrl(const QString &text)
{
    BridgeUrl out;
    const QUrl url(text, QUrl::StrictMode);
    const QString scheme = url.scheme();
    if (!url.isValid() || (scheme != QLatin1String("mqtt") && scheme != QLatin1String("mqtts"))) {
        out.error = QStringLiteral("'%1' is not mqtt://HOST:PORT or mqtts://HOST:PORT").arg(text);
        return out;
    }
    if (url.host().isEmpty() || !url.userInfo().isEmpty() || (!url.path().isEmpty() && url.path() != QLatin1String("/"))
        || url.hasQuery() || url.hasFragment()) {
        out.error = QStringLiteral("'%1': a bridge URL is scheme://HOST:PORT only (credentials go in [bridge] "
                                   "username and password_file)").arg(text);
        return out;
    }
    out.tls = scheme == QLatin1String("mqtts");
    out.host = url.host();
    out.port = url.port(out.tls ? 8883 : 1883);
    out.ok = true;
    return out;
}

bool isValidBoard(QByteArrayView board)
{
    return isValidName(board, MaxBoardLength);
}

} // namespace Kennel
