#include "csvexport.h"

#include <QAbstractItemModel>
#include <QIODevice>
#include <QSaveFile>
#include <QVariant>

namespace Kennel::Csv {

namespace {

// Rows are written in chunks of about this size: one write per row would be slow, the whole
// table in one string would double the memory of 100,000 rows.
constexpr qsizetype ChunkBytes = 256 * 1024;

bool isNumber(const QVariant &value)
{
    switch (value.metaType().id()) {
    case QMetaType::Int:
    case QMetaType::UInt:
    case QMetaType::LongLong:
    case QMetaType::ULongLong:
    case QMetaType::Double:
    case QMetaType::Long:
    case QMetaType::ULong:
    case QMetaType::Short:
    case QMetaType::UShort:
        return true;
    default:
        return false;
    }
}

} // namespace

QString escapeField(const QString &field, bool neutraliseFormula)
{
    QString value = field;
    if (neutraliseFormula && !value.isEmpty()) {
        const QChar first = value.at(0);
        if (first == u'=' || first == u'+' || first == u'-' || first == u'@' || first == u'\t' || first == u'\r')
            value.prepend(u'\'');
    }
    const bool quote = value.contains(u',') || value.contains(u'"') || value.contains(u'\n') || value.contains(u'\r');
    if (!quote)
        return value;
    value.replace(QStringLiteral("\""), QStringLiteral("\"\""));
    return QStringLiteral("\"") + value + QStringLiteral("\"");
}

bool writeModel(const QAbstractItemModel &model, QIODevice &out, int role, QString *error)
{
    const int columns = model.columnCount();
    const int rows = model.rowCount();
    QByteArray chunk;
    chunk.reserve(ChunkBytes + 4096);
    auto flush = [&]() {
        if (chunk.isEmpty())
            return true;
        if (out.write(chunk) != chunk.size()) {
            if (error)
                *error = out.errorString();
            return false;
        }
        chunk.clear();
        return true;
    };
    auto line = [&](const QStringList &fields) {
        chunk += fields.join(u',').toUtf8();
        chunk += "\r\n";
    };

    QStringList fields;
    fields.reserve(columns);
    for (int c = 0; c < columns; ++c)
        fields << escapeField(model.headerData(c, Qt::Horizontal, Qt::DisplayRole).toString());
    line(fields);
    for (int r = 0; r < rows; ++r) {
        fields.clear();
        for (int c = 0; c < columns; ++c) {
            const QModelIndex index = model.index(r, c);
            QVariant value = model.data(index, role);
            if (!value.isValid())
                value = model.data(index, Qt::DisplayRole);
            fields << (isNumber(value) ? value.toString() : escapeField(value.toString()));
        }
        line(fields);
        if (chunk.size() >= ChunkBytes && !flush())
            return false;
    }
    return flush();
}

bool exportToFile(const QAbstractItemModel &model, const QString &path, int role, QString *error)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        if (error)
            *error = QStringLiteral("cannot write %1: %2").arg(path, file.errorString());
        return false;
    }
    QString writeError;
    if (!writeModel(model, file, role, &writeError)) {
        file.cancelWriting();
        if (error)
            *error = QStringLiteral("cannot write %1: %2").arg(path, writeError);
        return false;
    }
    if (!file.commit()) {
        if (error)
            *error = QStringLiteral("cannot write %1: %2").arg(path, file.errorString());
        return false;
    }
    return true;
}

} // namespace Kennel::Csv
