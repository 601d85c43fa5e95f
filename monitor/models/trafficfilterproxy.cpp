#include "trafficfilterproxy.h"

#include "format.h"
#include "trafficmodel.h"

namespace Kennel {

namespace {

bool containsFolded(const QByteArray &haystack, const QByteArray &lowerNeedle)
{
    if (lowerNeedle.isEmpty())
        return true;
    if (haystack.size() < lowerNeedle.size())
        return false;
    return haystack.toLower().contains(lowerNeedle);
}

} // namespace

TrafficFilterProxy::TrafficFilterProxy(QObject *parent)
    : QSortFilterProxyModel(parent)
{
    // Rows arrive and leave in batches at the ends; keep them in arrival order, filtered as they come.
    setDynamicSortFilter(true);
}

void TrafficFilterProxy::setSourceModel(QAbstractItemModel *model)
{
    m_traffic = qobject_cast<TrafficModel *>(model);
    QSortFilterProxyModel::setSourceModel(model);
}

void TrafficFilterProxy::setSourceFilter(const QString &text)
{
    const QByteArray f = text.trimmed().toLatin1().toLower();
    if (f == m_source)
        return;
    m_source = f;
    refilter();
}

void TrafficFilterProxy::setTargetFilter(const QString &text)
{
    const QByteArray f = text.trimmed().toLatin1().toLower();
    if (f == m_target)
        return;
    m_target = f;
    refilter();
}

void TrafficFilterProxy::setTextFilter(const QString &text)
{
    if (text == m_text)
        return;
    m_text = text;
    refilter();
}

void TrafficFilterProxy::setHexPreview(bool hex)
{
    if (hex == m_hex)
        return;
    m_hex = hex;
    if (!m_text.isEmpty())
        refilter();
    if (rowCount() > 0)
        Q_EMIT dataChanged(index(0, TrafficModel::PreviewColumn), index(rowCount() - 1, TrafficModel::PreviewColumn));
}

void TrafficFilterProxy::refilter()
{
    invalidateFilter();
    Q_EMIT filterChanged();
}

bool TrafficFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    if (!m_traffic || sourceParent.isValid())
        return true;
    const TrafficEntry &e = m_traffic->entry(sourceRow);
    if (e.marker)
        return !isFiltering(); // a gap in the record is only meaningful in the unfiltered view
    if (!containsFolded(e.source, m_source) || !containsFolded(e.target, m_target))
        return false;
    if (m_text.isEmpty())
        return true;
    const QString preview = m_hex ? Format::previewHex(e.preview) : Format::previewText(e.preview);
    return preview.contains(m_text, Qt::CaseInsensitive);
}

QVariant TrafficFilterProxy::data(const QModelIndex &index, int role) const
{
    if (m_hex && index.isValid() && index.column() == TrafficModel::PreviewColumn
        && (role == Qt::DisplayRole || role == TrafficModel::ExportRole)) {
        const QModelIndex source = mapToSource(index);
        if (!source.data(TrafficModel::MarkerRole).toBool())
            return Format::previewHex(source.data(TrafficModel::PreviewBytesRole).toByteArray());
    }
    return QSortFilterProxyModel::data(index, role);
}

} // namespace Kennel
