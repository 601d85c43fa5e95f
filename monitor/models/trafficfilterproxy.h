// What the traffic view shows of TrafficModel: rows filtered by source, target and payload text,
// and the preview as text or hex. Kept out of the model so that the ring stays raw and the
// filters run on its entries directly (no QVariant per row when 100,000 rows are re-filtered).
#pragma once

#include <QByteArray>
#include <QSortFilterProxyModel>

namespace Kennel {

class TrafficModel;

class TrafficFilterProxy : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    explicit TrafficFilterProxy(QObject *parent = nullptr);

    void setSourceModel(QAbstractItemModel *model) override;

    // Each filter is a case-insensitive substring; empty matches everything. Source and target
    // match the names, text matches the payload preview (as text, or as hex digits in hex mode).
    void setSourceFilter(const QString &text);
    void setTargetFilter(const QString &text);
    void setTextFilter(const QString &text);
    QString sourceFilter() const { return QString::fromLatin1(m_source); }
    QString targetFilter() const { return QString::fromLatin1(m_target); }
    QString textFilter() const { return m_text; }
    bool isFiltering() const { return !m_source.isEmpty() || !m_target.isEmpty() || !m_text.isEmpty(); }

    bool hexPreview() const { return m_hex; }
    void setHexPreview(bool hex);

    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    void filterChanged();

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    void refilter();

    TrafficModel *m_traffic = nullptr;
    QByteArray m_source; // lower case; names are ASCII (PROTOCOL §3)
    QByteArray m_target;
    QString m_text;
    bool m_hex = false;
};

} // namespace Kennel
