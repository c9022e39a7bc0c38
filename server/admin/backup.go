package admin

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// Backuper writes a consistent copy of the store (*embedded.Store): start
// gets the copy's size before its first byte and says where to write it.
type Backuper interface {
	Backup(ctx context.Context, start func(size int64) (io.Writer, error)) (int64, error)
}

// redisBackupNote is the answer of a node whose store is Redis.
const redisBackupNote = "this server keeps its data in Redis, which backs it up itself: " +
	"use Redis persistence (AOF, RDB snapshots) and copy those files, not authserver backup"

// backupRate is the slowest transfer a backup is given time for: the
// listener's WriteTimeout suits small answers, not a large file.
const backupRate = 1 << 20 // bytes a second

// backup streams the store file with its exact Content-Length, so a copy
// cut short is seen as such by the client.
func (a *api) backup(c *gin.Context) {
	if a.Backup == nil {
		abort(c, http.StatusNotImplemented, "not_implemented", redisBackupNote)
		return
	}
	sent := false
	n, err := a.Backup.Backup(c.Request.Context(), func(size int64) (io.Writer, error) {
		// Not every ResponseWriter has deadlines (httptest's does not).
		_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(time.Minute + time.Duration(size/backupRate)*time.Second))
		h := c.Writer.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		h.Set("Content-Disposition", `attachment; filename="authserver.db"`)
		c.Status(http.StatusOK)
		c.Writer.WriteHeaderNow()
		sent = true
		return c.Writer, nil
	})
	switch {
	case err != nil && !sent:
		a.fail(c, "backup", err)
	case err != nil:
		// The 200 is out; the short body (against its Content-Length)
		// is what tells the client.
		a.Audit.WarnContext(c.Request.Context(), "admin backup cut short", "bytes", n, "error", err)
	default:
		a.audit(c, "backup", "bytes", n)
	}
}
