//! Rows read straight from SQLite, for the outputs that read tens of
//! thousands of them (`export`, `list --json`), and rows written straight
//! to it, for `import`, which writes hundreds of thousands.
//!
//! Through rusqlite, each value costs three calls into SQLite (its type,
//! its text, its length), each taking the statement's lock and checking
//! the column again: about 170 instructions a value, a quarter of an
//! export's work. A [`Cursor`] takes each value's handle once and reads
//! its type, text and length from it directly.
//!
//! The store's unsafe code for rows is all here. What makes it sound: a
//! cursor borrows its connection, so it is finalised before the connection
//! closes; a row borrows its cursor, so nothing can step the statement
//! (which frees the row's values) while the row's text is in use; and an
//! insert binds the caller's values without copying them only for the
//! length of the call, which unbinds them before it returns.

use std::ffi::{CStr, c_int};
use std::marker::PhantomData;
use std::ptr::NonNull;

use rusqlite::types::Type;
use rusqlite::{Connection, ffi};

/// A prepared statement walked row by row.
pub(super) struct Cursor<'conn> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    db: *mut ffi::sqlite3,
    /// Whether the statement stands on a row.
    on_row: bool,
    /// How many columns its rows have.
    width: usize,
    _conn: PhantomData<&'conn Connection>,
}

impl<'conn> Cursor<'conn> {
    pub(super) fn prepare(conn: &'conn Connection, sql: &str) -> rusqlite::Result<Self> {
        // SAFETY: the handle stays valid while `conn` is borrowed, which
        // the cursor's lifetime ensures.
        let db = unsafe { conn.handle() };
        let length = c_int::try_from(sql.len()).map_err(|_| {
            rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_TOOBIG), None)
        })?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: `sql` is valid for `length` bytes; SQLite writes the
        // statement to `stmt` and keeps no pointer into `sql`.
        let code = unsafe {
            ffi::sqlite3_prepare_v2(
                db,
                sql.as_ptr().cast(),
                length,
                &mut stmt,
                std::ptr::null_mut(),
            )
        };
        if code != ffi::SQLITE_OK {
            // SAFETY: a failed prepare leaves `stmt` null; nothing to free.
            return Err(unsafe { failure(db, code) });
        }
        let stmt = NonNull::new(stmt).ok_or_else(|| {
            // Only blank SQL prepares to no statement.
            rusqlite::Error::InvalidQuery
        })?;
        // SAFETY: the statement is live.
        let width = unsafe { ffi::sqlite3_column_count(stmt.as_ptr()) };
        Ok(Cursor {
            stmt,
            db,
            on_row: false,
            width: usize::try_from(width).unwrap_or(0),
            _conn: PhantomData,
        })
    }

    /// Runs the statement from the start with `params` bound to ?1, ?2, ...
    pub(super) fn start(&mut self, params: &[Param<'_>]) -> rusqlite::Result<()> {
        self.on_row = false;
        // SAFETY: the statement is live; a reset's code repeats the last
        // step's error, already reported.
        unsafe {
            ffi::sqlite3_reset(self.stmt.as_ptr());
            ffi::sqlite3_clear_bindings(self.stmt.as_ptr());
        }
        // SAFETY: SQLite copies each value before the call returns.
        unsafe { self.bind(params, ffi::SQLITE_TRANSIENT()) }
    }

    /// Runs a statement that returns no rows (an insert) once, with
    /// `params` bound to ?1, ?2, ... An import runs its inserts hundreds
    /// of thousands of times, and this binds the values where they lie:
    /// copying each into SQLite, through rusqlite, was a sixth of the
    /// writing thread's work.
    pub(super) fn execute(&mut self, params: &[Param<'_>]) -> rusqlite::Result<()> {
        self.on_row = false;
        // SAFETY: the statement is live. A statement left mid-run takes
        // no bindings; one already reset is left as it is.
        unsafe { ffi::sqlite3_reset(self.stmt.as_ptr()) };
        // SAFETY: SQLite keeps pointers to the values, which `params`
        // borrows for this call, and lets go of them below, before the
        // call returns.
        let bound = unsafe { self.bind(params, ffi::SQLITE_STATIC()) };
        let stepped = bound.and_then(|()| {
            // SAFETY: the statement is live, with every value bound.
            match unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) } {
                ffi::SQLITE_DONE | ffi::SQLITE_ROW => Ok(()),
                // SAFETY: the connection is live.
                code => Err(unsafe { failure(self.db, code) }),
            }
        });
        // SAFETY: the statement is live; the reset's code repeats the
        // step's error, taken above. Clearing the bindings drops SQLite's
        // pointers into `params`.
        unsafe {
            ffi::sqlite3_reset(self.stmt.as_ptr());
            ffi::sqlite3_clear_bindings(self.stmt.as_ptr());
        }
        stepped
    }

    /// Binds `params` to ?1, ?2, ..., texts and arrays with `destructor`.
    ///
    /// # Safety
    /// With `SQLITE_STATIC`, the values must stay where they are until
    /// the statement's bindings are cleared.
    unsafe fn bind(
        &mut self,
        params: &[Param<'_>],
        destructor: ffi::sqlite3_destructor_type,
    ) -> rusqlite::Result<()> {
        for (index, param) in (1..).zip(params) {
            // SAFETY: the statement is live; a text or array is valid for
            // the length given and, by the caller's promise, for as long
            // as SQLite holds it; SQLite never writes through the pointer
            // made mutable for the call.
            let code = unsafe {
                match *param {
                    Param::Null => ffi::sqlite3_bind_null(self.stmt.as_ptr(), index),
                    Param::Int(value) => ffi::sqlite3_bind_int64(self.stmt.as_ptr(), index, value),
                    Param::Text(text) => match c_int::try_from(text.len()) {
                        Ok(length) => ffi::sqlite3_bind_text(
                            self.stmt.as_ptr(),
                            index,
                            text.as_ptr().cast(),
                            length,
                            destructor,
                        ),
                        Err(_) => ffi::SQLITE_TOOBIG,
                    },
                    // SQLite cannot copy nothing (it asks for 0 bytes and
                    // takes the null it gets for running out of memory);
                    // `carray(NULL)` is empty as well.
                    Param::Ints([]) => ffi::sqlite3_bind_null(self.stmt.as_ptr(), index),
                    Param::Ints(values) => match c_int::try_from(values.len()) {
                        Ok(length) => ffi::sqlite3_carray_bind(
                            self.stmt.as_ptr(),
                            index,
                            values.as_ptr().cast_mut().cast(),
                            length,
                            ffi::SQLITE_CARRAY_INT64,
                            destructor,
                        ),
                        Err(_) => ffi::SQLITE_TOOBIG,
                    },
                }
            };
            if code != ffi::SQLITE_OK {
                // SAFETY: the connection is live.
                return Err(unsafe { failure(self.db, code) });
            }
        }
        Ok(())
    }

    /// Steps to the next row: false when there is none.
    pub(super) fn advance(&mut self) -> rusqlite::Result<bool> {
        // SAFETY: the statement is live; `&mut self` means no row of the
        // last step is still borrowed.
        let code = unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) };
        self.on_row = code == ffi::SQLITE_ROW;
        match code {
            ffi::SQLITE_ROW | ffi::SQLITE_DONE => Ok(self.on_row),
            // SAFETY: the connection is live.
            _ => Err(unsafe { failure(self.db, code) }),
        }
    }

    /// The row the statement stands on, if it stands on one.
    pub(super) fn row(&self) -> Option<Columns<'_>> {
        self.on_row.then_some(Columns {
            stmt: self.stmt,
            width: self.width,
            _row: PhantomData,
        })
    }

    /// Steps to the next row and returns it.
    pub(super) fn next_row(&mut self) -> rusqlite::Result<Option<Columns<'_>>> {
        self.advance()?;
        Ok(self.row())
    }
}

impl Drop for Cursor<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is live and not used again.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

/// A value to bind.
#[derive(Debug, Clone, Copy)]
pub(super) enum Param<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    /// Whole numbers, read in SQL as the table `carray(?N)`.
    Ints(&'a [i64]),
}

impl<'a> Param<'a> {
    /// Text, or NULL for `None`.
    pub(super) fn text_or_null(text: Option<&'a str>) -> Self {
        text.map_or(Param::Null, Param::Text)
    }
}

/// The values of the row a cursor stands on, valid until it steps again.
#[derive(Clone, Copy)]
pub(super) struct Columns<'row> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    width: usize,
    _row: PhantomData<&'row ()>,
}

impl<'row> Columns<'row> {
    /// The value in column `index`, or `None` past the last column.
    fn value(&self, index: usize) -> Option<NonNull<ffi::sqlite3_value>> {
        if index >= self.width {
            return None;
        }
        let index = c_int::try_from(index).ok()?;
        // SAFETY: the statement stands on a row (a `Columns` exists only
        // then), and the column is one of its.
        NonNull::new(unsafe { ffi::sqlite3_column_value(self.stmt.as_ptr(), index) })
    }

    /// The value in column `index` with SQLite's type for it: one call
    /// for the value, one for its type, whatever is then read from it.
    fn typed(&self, index: usize) -> rusqlite::Result<(NonNull<ffi::sqlite3_value>, c_int)> {
        let value = self
            .value(index)
            .ok_or_else(|| rusqlite::Error::InvalidColumnIndex(index))?;
        // SAFETY: the value belongs to the current row.
        let kind = unsafe { ffi::sqlite3_value_type(value.as_ptr()) };
        Ok((value, kind))
    }

    /// The value in column `index` if it is of SQLite's type `wanted`;
    /// otherwise an error naming the column and saying what belongs there.
    fn value_of(
        &self,
        index: usize,
        wanted: c_int,
        belongs: &str,
    ) -> rusqlite::Result<NonNull<ffi::sqlite3_value>> {
        match self.typed(index)? {
            (value, kind) if kind == wanted => Ok(value),
            (_, kind) => Err(wrong_type(index, kind, belongs)),
        }
    }

    /// The bytes of text `value`, which is of this row.
    fn bytes_of(&self, value: NonNull<ffi::sqlite3_value>) -> rusqlite::Result<&'row [u8]> {
        // SAFETY: the value belongs to the current row, and the text it
        // points to lives until the statement steps, which needs the
        // cursor that `'row` borrows. A text value is read as text, so
        // SQLite converts nothing and the pointer stays put.
        unsafe {
            let text = ffi::sqlite3_value_text(value.as_ptr());
            let length = usize::try_from(ffi::sqlite3_value_bytes(value.as_ptr())).unwrap_or(0);
            if text.is_null() {
                // Out of memory while reading it.
                return Err(rusqlite::Error::SqliteFailure(
                    ffi::Error::new(ffi::SQLITE_NOMEM),
                    None,
                ));
            }
            Ok(std::slice::from_raw_parts(text, length))
        }
    }

    /// The bytes of the text in column `index`; any other type is an
    /// error naming the column.
    pub(super) fn text_bytes(&self, index: usize) -> rusqlite::Result<&'row [u8]> {
        let value = self.value_of(index, ffi::SQLITE_TEXT, "text")?;
        self.bytes_of(value)
    }

    /// As [`Columns::text_bytes`], or `None` for NULL.
    pub(super) fn optional_text_bytes(&self, index: usize) -> rusqlite::Result<Option<&'row [u8]>> {
        match self.typed(index)? {
            (_, ffi::SQLITE_NULL) => Ok(None),
            (value, ffi::SQLITE_TEXT) => self.bytes_of(value).map(Some),
            (_, kind) => Err(wrong_type(index, kind, "text")),
        }
    }

    /// The text in column `index`, checked to be UTF-8 so that a damaged
    /// value is reported, not printed. The check is simdutf8's: the
    /// standard library's goes a character at a time through Arabic, and
    /// quotes in Arabic were a tenth of a long list's work.
    pub(super) fn text(&self, index: usize) -> rusqlite::Result<&'row str> {
        utf8(index, self.text_bytes(index)?)
    }

    /// As [`Columns::text`], or `None` for NULL.
    pub(super) fn optional_text(&self, index: usize) -> rusqlite::Result<Option<&'row str>> {
        self.optional_text_bytes(index)?
            .map(|bytes| utf8(index, bytes))
            .transpose()
    }

    /// The whole number in column `index`; any other type is an error.
    pub(super) fn int(&self, index: usize) -> rusqlite::Result<i64> {
        let value = self.value_of(index, ffi::SQLITE_INTEGER, "a whole number")?;
        // SAFETY: the value belongs to the current row.
        Ok(unsafe { ffi::sqlite3_value_int64(value.as_ptr()) })
    }

    /// The flag in column `index`: a whole number, true unless 0.
    pub(super) fn flag(&self, index: usize) -> rusqlite::Result<bool> {
        self.int(index).map(|value| value != 0)
    }
}

/// `bytes`, the text of column `index`, as UTF-8; a damaged value is an
/// error that shows it.
fn utf8(index: usize, bytes: &[u8]) -> rusqlite::Result<&str> {
    // Most stored text is short and ASCII (a title, an author, a deadline
    // as written, an event's detail), and simdutf8 hands text under 64
    // bytes to the standard library's check, a call and its setup each:
    // a twentieth of an export's instructions. ASCII is told apart a word
    // at a time, inline.
    if bytes.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    simdutf8::basic::from_utf8(bytes).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            Type::Text,
            format!(
                "unreadable value {:?}: not UTF-8",
                String::from_utf8_lossy(bytes)
            )
            .into(),
        )
    })
}

/// The error for column `index` holding a value of SQLite's type `found`
/// where `wanted` belongs.
fn wrong_type(index: usize, found: c_int, wanted: &str) -> rusqlite::Error {
    let found = match found {
        ffi::SQLITE_INTEGER => Type::Integer,
        ffi::SQLITE_FLOAT => Type::Real,
        ffi::SQLITE_TEXT => Type::Text,
        ffi::SQLITE_BLOB => Type::Blob,
        _ => Type::Null,
    };
    rusqlite::Error::FromSqlConversionFailure(
        index,
        found,
        format!("unreadable value: {found} where {wanted} belongs").into(),
    )
}

/// The connection's error for a call that returned `code`.
///
/// # Safety
/// `db` must be a live connection.
unsafe fn failure(db: *mut ffi::sqlite3, code: c_int) -> rusqlite::Error {
    // SAFETY: the caller's; SQLite's message lives until the next call on
    // the connection, and is copied before then.
    let message = unsafe {
        let text = ffi::sqlite3_errmsg(db);
        (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT, note, flag INTEGER);
             INSERT INTO t VALUES (1, 'اجتماع', NULL, 1), (2, 'two', 'n', 0),
                                  (3, CAST(x'ff' AS TEXT), 7, 2);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn rows_are_read_with_their_types_checked() {
        let conn = table();
        let mut cursor = Cursor::prepare(
            &conn,
            "SELECT id, label, note, flag FROM t WHERE id <= ?1 ORDER BY id",
        )
        .unwrap();
        cursor.start(&[Param::Int(2)]).unwrap();
        let row = cursor.next_row().unwrap().unwrap();
        assert_eq!(row.int(0).unwrap(), 1);
        assert_eq!(row.text(1).unwrap(), "اجتماع");
        assert_eq!(row.optional_text(2).unwrap(), None);
        assert!(row.flag(3).unwrap());
        // A number where text belongs, text where a number belongs, and a
        // column past the last are errors, not guesses.
        assert!(row.text(0).is_err());
        assert!(row.int(1).is_err());
        assert!(matches!(
            row.text(4),
            Err(rusqlite::Error::InvalidColumnIndex(4))
        ));
        let row = cursor.next_row().unwrap().unwrap();
        assert_eq!(row.optional_text(2).unwrap(), Some("n"));
        assert!(!row.flag(3).unwrap());
        assert!(cursor.next_row().unwrap().is_none());
        assert!(cursor.row().is_none());
        // Started again, with another parameter, from the first row.
        cursor.start(&[Param::Int(1)]).unwrap();
        assert_eq!(cursor.next_row().unwrap().unwrap().int(0).unwrap(), 1);
        assert!(cursor.next_row().unwrap().is_none());
    }

    #[test]
    fn executed_inserts_keep_their_values_after_the_caller_lets_go() {
        let conn = table();
        let mut insert = Cursor::prepare(
            &conn,
            "INSERT INTO t (id, label, note, flag) VALUES (?1, ?2, ?3, ?4)",
        )
        .unwrap();
        for id in 10..20 {
            // Freed, and its memory soon reused, after each insert.
            let label = format!("label {id}");
            let note = (id % 2 == 0).then_some("even");
            insert
                .execute(&[
                    Param::Int(id),
                    Param::Text(&label),
                    Param::text_or_null(note),
                    Param::Int(id % 3),
                ])
                .unwrap();
        }
        // A refused insert reports SQLite's own error, and the statement
        // takes the next one.
        let err = insert
            .execute(&[
                Param::Int(10),
                Param::Text("again"),
                Param::Null,
                Param::Int(0),
            ])
            .unwrap_err();
        assert!(
            matches!(
                &err,
                rusqlite::Error::SqliteFailure(f, _)
                    if f.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ),
            "{err:?}"
        );
        insert
            .execute(&[
                Param::Int(20),
                Param::Text("last"),
                Param::Null,
                Param::Int(1),
            ])
            .unwrap();
        drop(insert);
        let rows: Vec<(i64, String, Option<String>, i64)> = conn
            .prepare("SELECT id, label, note, flag FROM t WHERE id >= 10 ORDER BY id")
            .unwrap()
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let mut expected: Vec<(i64, String, Option<String>, i64)> = (10..20)
            .map(|id| {
                let note = (id % 2 == 0).then(|| "even".to_string());
                (id, format!("label {id}"), note, id % 3)
            })
            .collect();
        expected.push((20, "last".into(), None, 1));
        assert_eq!(rows, expected);
    }

    #[test]
    fn damaged_text_is_an_error_that_shows_the_value() {
        let conn = table();
        let mut cursor = Cursor::prepare(&conn, "SELECT label, note FROM t WHERE id = ?1").unwrap();
        cursor.start(&[Param::Int(3)]).unwrap();
        let row = cursor.next_row().unwrap().unwrap();
        let err = row.text(0).unwrap_err().to_string();
        assert!(
            err.contains("not UTF-8") && err.contains('\u{fffd}'),
            "{err}"
        );
        assert_eq!(row.text_bytes(0).unwrap(), b"\xff");
        let err = row.optional_text(1).unwrap_err().to_string();
        assert!(err.contains("Integer where text belongs"), "{err}");
    }

    #[test]
    fn text_parameters_and_bad_sql_are_handled() {
        let conn = table();
        let mut cursor = Cursor::prepare(&conn, "SELECT id FROM t WHERE label = ?1").unwrap();
        cursor.start(&[Param::Text("two")]).unwrap();
        assert_eq!(cursor.next_row().unwrap().unwrap().int(0).unwrap(), 2);
        let err = Cursor::prepare(&conn, "SELECT missing FROM t")
            .err()
            .unwrap();
        assert!(err.to_string().contains("no such column: missing"), "{err}");
        assert!(Cursor::prepare(&conn, "  ").is_err());
    }

    #[test]
    fn whole_numbers_are_bound_as_a_table_in_their_order() {
        let conn = table();
        let mut cursor = Cursor::prepare(
            &conn,
            "SELECT t.id FROM carray(?1) AS wanted CROSS JOIN t ON t.id = wanted.value",
        )
        .unwrap();
        let mut read = |ids: &[i64]| {
            cursor.start(&[Param::Ints(ids)]).unwrap();
            let mut found = Vec::new();
            while let Some(row) = cursor.next_row().unwrap() {
                found.push(row.int(0).unwrap());
            }
            found
        };
        assert_eq!(read(&[3, 1, 2]), [3, 1, 2]);
        assert_eq!(read(&[2, 99, 1]), [2, 1]);
        assert_eq!(read(&[]), Vec::<i64>::new());
        assert_eq!(read(&[1]), [1]);
    }

    #[test]
    fn a_failing_step_is_an_error_not_the_end() {
        let conn = table();
        let mut cursor =
            Cursor::prepare(&conn, "SELECT abs(-9223372036854775807 - id) FROM t").unwrap();
        cursor.start(&[]).unwrap();
        let err = cursor.advance().unwrap_err().to_string();
        assert!(err.contains("integer overflow"), "{err}");
        assert!(cursor.row().is_none());
    }
}
