// store/sqlite: the few out-of-line parts of the RAII wrappers.
#include "store/sqlite.hpp"

namespace hedge::store {

bool Db::open(const std::string& path, bool read_only, std::string& err) {
  close();
  const int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &m_db, flags | SQLITE_OPEN_NOFOLLOW, nullptr) != SQLITE_OK) {
    err = path + ": " + (m_db ? sqlite3_errmsg(m_db) : "cannot open");
    close();
    return false;
  }
  sqlite3_busy_timeout(m_db, 5000);  // the CLI and the server share the file
  sqlite3_extended_result_codes(m_db, 1);
  return true;
}

bool Db::exec(const char* sql, std::string& err) {
  char* msg = nullptr;
  if (sqlite3_exec(m_db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    err = msg ? msg : errmsg();
    sqlite3_free(msg);
    return false;
  }
  return true;
}

Stmt::Stmt(const Db& db, std::string_view sql) {
  if (sqlite3_prepare_v2(db.get(), sql.data(), static_cast<int>(sql.size()), &m_stmt, nullptr) != SQLITE_OK)
    m_stmt = nullptr;
}

}  // namespace hedge::store
