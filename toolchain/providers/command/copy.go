package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// copyToRemote implements CopyToRemote (source: FileAsset, StringAsset or FileArchive) and the
// deprecated CopyFile (localPath) over SFTP.
//
// Semantics (as upstream): parent directories of remotePath are created; a file copied onto an
// existing directory lands inside it; a directory is copied as remotePath/<basename> when its path
// has no trailing slash, its contents are copied into remotePath otherwise; archives such as .tgz
// files are copied as they are. Unlike upstream, file permissions are preserved.
func (s *server) copyToRemote(ctx context.Context, urn resource.URN, typ string, inputs resource.PropertyMap) error {
	conn, err := parseConnection(inputs["connection"], false)
	if err != nil {
		return err
	}
	rp, _, err := optString(inputs, "remotePath")
	if err != nil || rp == nil || *rp == "" {
		return errors.New("remotePath is required")
	}
	remotePath := *rp
	var text *string
	var local string
	if typ == tCopyFile {
		lp, _, err := optString(inputs, "localPath")
		if err != nil || lp == nil {
			return errors.New("localPath is required")
		}
		local = *lp
	} else {
		src := strip(inputs["source"])
		switch {
		case src.IsAsset() && src.AssetValue().IsText():
			t := src.AssetValue().Text
			text = &t
		case src.IsAsset() && src.AssetValue().IsPath():
			local = src.AssetValue().Path
		case src.IsArchive() && src.ArchiveValue().IsPath():
			local = src.ArchiveValue().Path
		default:
			return errors.New("source must be a FileAsset, a StringAsset or a FileArchive")
		}
	}
	red := redactor(secretStrings(inputs))
	c, err := dial(ctx, conn, func(msg string) { s.logStatus(ctx, diag.Info, urn, red.apply(msg)) })
	if err != nil {
		return errors.New(red.apply(err.Error()))
	}
	defer c.Close()
	sc, err := sftp.NewClient(c.Client)
	if err != nil {
		return fmt.Errorf("starting sftp on %s: %w", conn.addr(), err)
	}
	defer sc.Close()
	if parent := path.Dir(remotePath); parent != "." && parent != "/" {
		if err := sc.MkdirAll(parent); err != nil {
			return fmt.Errorf("creating remote directory %s: %w", parent, err)
		}
	}
	if text != nil {
		if st, err := remoteStat(sc, remotePath); err != nil {
			return err
		} else if st != nil && st.IsDir() {
			return fmt.Errorf("remote path %s is a directory; with a StringAsset remotePath must be a file path", remotePath)
		}
		return writeRemote(sc, remotePath, strings.NewReader(*text), 0o644)
	}
	n, err := sftpCopy(ctx, sc, local, remotePath)
	if err == nil {
		s.log(ctx, diag.Debug, urn, fmt.Sprintf("copied %d file(s) to %s:%s", n, conn.Host, remotePath))
	}
	return err
}

func remoteStat(sc *sftp.Client, p string) (fs.FileInfo, error) {
	st, err := sc.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("stat remote path %s: %w", p, err)
	}
	return st, nil
}

type reader interface{ Read([]byte) (int, error) }

func writeRemote(sc *sftp.Client, dst string, r reader, mode fs.FileMode) error {
	f, err := sc.Create(dst)
	if err != nil {
		return fmt.Errorf("creating remote file %s: %w", dst, err)
	}
	if _, err := f.ReadFrom(r); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing remote file %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing remote file %s: %w", dst, err)
	}
	if err := sc.Chmod(dst, mode.Perm()); err != nil {
		return fmt.Errorf("chmod remote file %s: %w", dst, err)
	}
	return nil
}

func copyFile(sc *sftp.Client, src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return writeRemote(sc, dst, f, st.Mode())
}

func sftpCopy(ctx context.Context, sc *sftp.Client, src, dst string) (int, error) {
	st, err := os.Stat(src)
	if err != nil {
		return 0, fmt.Errorf("source: %w", err)
	}
	dstStat, err := remoteStat(sc, dst)
	if err != nil {
		return 0, err
	}
	if !st.IsDir() {
		if dstStat != nil && dstStat.IsDir() {
			dst = path.Join(dst, filepath.Base(src))
		}
		return 1, copyFile(sc, src, dst)
	}
	if dstStat != nil && !dstStat.IsDir() {
		return 0, fmt.Errorf("remote path %s exists and is not a directory", dst)
	}
	if dstStat == nil {
		if err := sc.Mkdir(dst); err != nil {
			return 0, fmt.Errorf("creating remote directory %s: %w", dst, err)
		}
	}
	if !strings.HasSuffix(src, "/") {
		dst = path.Join(dst, filepath.Base(src))
	}
	n := 0
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := path.Join(dst, filepath.ToSlash(rel))
		if d.IsDir() {
			ts, err := remoteStat(sc, target)
			if err != nil {
				return err
			}
			if ts == nil {
				if err := sc.Mkdir(target); err != nil {
					return fmt.Errorf("creating remote directory %s: %w", target, err)
				}
			} else if !ts.IsDir() {
				return fmt.Errorf("remote path %s exists and is not a directory", target)
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks, sockets, ... are skipped
		}
		n++
		return copyFile(sc, p, target)
	})
	return n, err
}
