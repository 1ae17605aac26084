package migrate

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_more.sql":  {Data: []byte("two")},
		"m/0001_first.sql": {Data: []byte("one")},
		"m/10_tenth.sql":   {Data: []byte("ten")},
		"m/README.md":      {Data: []byte("ignored")},
	}
	files, err := Files(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Name+"="+f.SQL)
	}
	want := "0001_first.sql=one 0002_more.sql=two 10_tenth.sql=ten"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestFilesRejects(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no number":      {"m/first.sql": {}},
		"zero":           {"m/0000_zero.sql": {}},
		"shared version": {"m/0001_a.sql": {}, "m/1_b.sql": {}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Files(fsys, "m"); err == nil {
				t.Error("got nil error, want one")
			}
		})
	}
}
