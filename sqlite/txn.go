package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// txn is a transaction. A write transaction runs on the writer's one
// connection with statements prepared once and reused: SQLite spends much of a
// small write transaction parsing its SQL, the store's statements are few and
// fixed, and database/sql would prepare them again in every transaction. So the
// writer's transactions are plain BEGIN IMMEDIATE … COMMIT statements on a
// connection only the writer holding its turn uses. A read transaction (tx set)
// runs on the reader pool and prepares nothing.
//
// A write transaction's statements run under its group's context (group),
// whatever context they are given, and nothing cancels that one (see
// commitGroup): one caller's deadline must not interrupt a statement of the
// group's transaction, which SQLite may answer by rolling back the whole of
// it, its neighbours' work included. A caller whose deadline passed before
// its turn is not run at all (runJob).
type txn struct {
	tx    *sql.Tx
	prep  *prepared
	group context.Context
}

// ctxFor is the context a statement runs under.
func (t *txn) ctxFor(ctx context.Context) context.Context {
	if t.group != nil {
		return t.group
	}
	return ctx
}

// prepared keeps the statements prepared on the writer's connection.
type prepared struct {
	conn *sql.Conn
	mu   sync.Mutex
	m    map[string]*sql.Stmt
}

func newPrepared(conn *sql.Conn) *prepared { return &prepared{conn: conn, m: map[string]*sql.Stmt{}} }

func (p *prepared) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.m[query]; ok {
		return st, nil
	}
	st, err := p.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.m[query] = st
	return st, nil
}

func (p *prepared) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.m {
		st.Close()
	}
}

// ExecContext runs query in the transaction.
func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = t.ctxFor(ctx)
	if t.tx != nil {
		return t.tx.ExecContext(ctx, query, args...)
	}
	st, err := t.prep.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs query in the transaction.
func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = t.ctxFor(ctx)
	if t.tx != nil {
		return t.tx.QueryContext(ctx, query, args...)
	}
	st, err := t.prep.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs query in the transaction.
func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = t.ctxFor(ctx)
	if t.tx != nil {
		return t.tx.QueryRowContext(ctx, query, args...)
	}
	st, err := t.prep.stmt(ctx, query)
	if err != nil {
		return t.prep.conn.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// execScript runs SQL of many statements (a migration), unprepared.
func (t *txn) execScript(ctx context.Context, script string) error {
	_, err := t.prep.conn.ExecContext(t.ctxFor(ctx), script)
	return err
}
