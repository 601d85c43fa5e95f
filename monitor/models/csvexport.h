// CSV export of a table model (the traffic view, the events log): RFC 4180 — comma separated,
// CRLF line ends, fields quoted when they hold a comma, a quote or a line break, quotes doubled —
// in UTF-8, with the header row from headerData(). What is exported is what the model (usually a
// filtering proxy) shows, under ExportRole when it gives one.
//
// Payload previews are untrusted text that ends up in spreadsheets: a text field starting with
// = + - @ (or a tab or CR) would be run as a formula there, so it is prefixed with an apostrophe.
#pragma once

#include <QString>

QT_BEGIN_NAMESPACE
class QAbstractItemModel;
class QIODevice;
QT_END_NAMESPACE

namespace Kennel::Csv {

QString escapeField(const QString &field, bool neutraliseFormula = true);

// `role` is asked first; where it gives nothing, Qt::DisplayRole. False with `error` set when
// the device refuses the bytes.
bool writeModel(const QAbstractItemModel &model, QIODevice &out, int role, QString *error = nullptr);
// Writes to `path` atomically (QSaveFile): a failed export leaves no half file behind.
bool exportToFile(const QAbstractItemModel &model, const QString &path, int role, QString *error = nullptr);

} // namespace Kennel::Csv
