package client

import (
	"encoding/json"
	"github.com/candorcloud/candor/client/exportfmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/candorcloud/candor"
)

// Notes is the phone's notes app. A note's record data is the JSON object
// {"title": ..., "body": ...}.
type Notes struct{ c *Client }

// Notes returns the phone's notes.
func (c *Client) Notes() *Notes { return &Notes{c} }

// Note is one note.
type Note struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Body  string `json:"body"`
}

func encodeNote(title, body string) ([]byte, error) {
	if !utf8.ValidString(title) || !utf8.ValidString(body) {
		return nil, candor.E(candor.Invalid, "a note must be UTF-8 text")
	}
	if strings.TrimSpace(title) == "" && strings.TrimSpace(body) == "" {
		return nil, candor.E(candor.Invalid, "a note needs a title or a body")
	}
	b, err := json.Marshal(exportfmt.Note{Title: title, Body: body})
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot encode the note", err)
	}
	return b, checkSize(b)
}

func noteOf(id string, data []byte) Note {
	n := exportfmt.NoteOf(data) // one reading for the phone and the export
	return Note{ID: id, Title: n.Title, Body: n.Body}
}

// Add stores a new note.
func (n *Notes) Add(title, body string) (Note, error) {
	b, err := encodeNote(title, body)
	if err != nil {
		return Note{}, err
	}
	ids, err := n.c.addRecords(candor.Notes, [][]byte{b})
	if err != nil {
		return Note{}, err
	}
	return Note{ID: ids[0], Title: title, Body: body}, nil
}

// Update replaces a note's title and body.
func (n *Notes) Update(id, title, body string) error {
	b, err := encodeNote(title, body)
	if err != nil {
		return err
	}
	return n.c.updateRecord(candor.Notes, id, b)
}

// Delete deletes a note, here and, at the next sync, everywhere.
func (n *Notes) Delete(id string) error { return n.c.deleteRecord(candor.Notes, id) }

// Get returns one note; NotFound if there is none with that id.
func (n *Notes) Get(id string) (Note, error) {
	r, err := n.c.liveRecord(candor.Notes, id)
	if err != nil {
		return Note{}, err
	}
	return noteOf(r.ID, r.Data), nil
}

// List returns the phone's notes in the order they were added.
func (n *Notes) List() ([]Note, error) {
	rs, err := n.c.liveRecords(candor.Notes)
	if err != nil {
		return nil, err
	}
	out := make([]Note, 0, len(rs))
	for _, r := range rs {
		out = append(out, noteOf(r.ID, r.Data))
	}
	return out, nil
}

// ImportDir adds one note per regular file in dir (not its subfolders,
// not hidden files), in file name order: the title is the file name
// without its extension, the body the file's contents, which must be UTF-8
// text. Either every file is imported or, on error, none. It returns the
// number of notes added.
func (n *Notes) ImportDir(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, candor.Wrap(candor.Invalid, "cannot read the notes folder", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var datas [][]byte
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !e.Type().IsRegular() {
			continue
		}
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return 0, candor.Wrap(candor.Invalid, "cannot read a note file", err)
		}
		if !utf8.Valid(body) {
			return 0, candor.Errorf(candor.Invalid, "note file %d of the folder is not UTF-8 text", len(datas)+1)
		}
		title := strings.TrimSuffix(name, filepath.Ext(name))
		b, err := encodeNote(title, string(body))
		if err != nil {
			return 0, err
		}
		datas = append(datas, b)
	}
	if len(datas) == 0 {
		return 0, nil
	}
	ids, err := n.c.addRecords(candor.Notes, datas)
	return len(ids), err
}
