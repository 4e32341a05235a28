// store/sqlite: RAII owners for a SQLite connection and a prepared statement.
// Only resolver/store/*.cpp include this (the only files that call sqlite3_*).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace hedge::store {

class Db {
 public:
  Db() = default;
  ~Db() { close(); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  Db(Db&& o) noexcept : m_db(o.m_db) { o.m_db = nullptr; }
  Db& operator=(Db&& o) noexcept {
    if (this != &o) {
      close();
      m_db = o.m_db;
      o.m_db = nullptr;
    }
    return *this;
  }
  // Opens (creating if needed unless read_only); sets err on failure.
  bool open(const std::string& path, bool read_only, std::string& err);
  void close() noexcept {
    if (m_db) sqlite3_close_v2(m_db);
    m_db = nullptr;
  }
  sqlite3* get() const noexcept { return m_db; }
  explicit operator bool() const noexcept { return m_db != nullptr; }
  // Runs one or more statements without results.
  bool exec(const char* sql, std::string& err);
  std::string errmsg() const { return m_db ? sqlite3_errmsg(m_db) : "database not open"; }
  int64_t last_insert_id() const noexcept { return m_db ? sqlite3_last_insert_rowid(m_db) : 0; }
  int changes() const noexcept { return m_db ? sqlite3_changes(m_db) : 0; }

 private:
  sqlite3* m_db = nullptr;
};

class Stmt {
 public:
  Stmt(const Db& db, std::string_view sql);
  ~Stmt() {
    if (m_stmt) sqlite3_finalize(m_stmt);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  explicit operator bool() const noexcept { return m_stmt != nullptr; }

  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(m_stmt, i, v);
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(m_stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() noexcept { return m_stmt ? sqlite3_step(m_stmt) : SQLITE_MISUSE; }
  bool run() noexcept { return step() == SQLITE_DONE; }
  void reset() noexcept {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
  }
  int64_t i64(int col) const noexcept { return sqlite3_column_int64(m_stmt, col); }
  bool null(int col) const noexcept { return sqlite3_column_type(m_stmt, col) == SQLITE_NULL; }
  // The column's text without a copy; valid until the next step()/reset().
  std::string_view view(int col) const noexcept {
    const auto* p = sqlite3_column_text(m_stmt, col);
    return p ? std::string_view(reinterpret_cast<const char*>(p),
                                static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, col)))
             : std::string_view();
  }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(m_stmt, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, col)))
             : std::string();
  }

 private:
  sqlite3_stmt* m_stmt = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Db& db) : m_db(db) {
    std::string err;
    m_open = m_db.exec("BEGIN IMMEDIATE", err);
  }
  ~Transaction() {
    std::string err;
    if (m_open) m_db.exec("ROLLBACK", err);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  bool ok() const noexcept { return m_open; }
  bool commit(std::string& err) {
    if (!m_open) return false;
    m_open = false;
    return m_db.exec("COMMIT", err);
  }

 private:
  Db& m_db;
  bool m_open = false;
};

}  // namespace hedge::store
