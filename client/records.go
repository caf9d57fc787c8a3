package client

import (
	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// Local edits. They work whether a category is on or off: the phone's data
// is the person's, and a change made while a category is off is synced once
// it is on.

func checkSize(data []byte) error {
	if len(data) > api.MaxRecordBytes {
		return candor.Errorf(candor.TooLarge, "an item is %d bytes; the most a record may hold is %d", len(data), api.MaxRecordBytes)
	}
	return nil
}

// addRecords stores new records and returns their ids.
func (c *Client) addRecords(cat candor.Category, datas [][]byte) ([]string, error) {
	for _, d := range datas {
		if err := checkSize(d); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.category(cat)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(datas))
	for i, d := range datas {
		ids[i] = candor.NewRecordID()
		s.add(&record{ID: ids[i], Dirty: true, Data: d})
	}
	if err := c.saveCategory(cat); err != nil {
		for _, id := range ids {
			s.remove(id)
		}
		return nil, err
	}
	return ids, nil
}

// updateRecord replaces a record's data; NotFound if there is no such
// record.
func (c *Client) updateRecord(cat candor.Category, id string, data []byte) error {
	if err := checkSize(data); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.category(cat)
	if err != nil {
		return err
	}
	r := s.get(id)
	if r == nil || r.Deleted {
		return candor.Errorf(candor.NotFound, "no %s item with that id on this phone", cat)
	}
	old := *r
	r.Data, r.Dirty = data, true
	if err := c.saveCategory(cat); err != nil {
		*r = old
		return err
	}
	return nil
}

// deleteRecord deletes a record: a record the server never had is simply
// dropped; any other becomes a pending tombstone, and so does a new record
// whose push went unanswered (the server may have it). NotFound if absent.
func (c *Client) deleteRecord(cat candor.Category, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.category(cat)
	if err != nil {
		return err
	}
	r := s.get(id)
	if r == nil || r.Deleted {
		return candor.Errorf(candor.NotFound, "no %s item with that id on this phone", cat)
	}
	old := *r
	never := r.Version == 0 && len(r.Sent) == 0
	if never {
		s.remove(id)
	} else {
		r.Deleted, r.Dirty, r.Data = true, true, nil
	}
	if err := c.saveCategory(cat); err != nil {
		if never {
			s.add(&old)
		} else {
			*r = old
		}
		return err
	}
	return nil
}

// liveRecords returns copies of the records the person sees.
func (c *Client) liveRecords(cat candor.Category) ([]record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.category(cat)
	if err != nil {
		return nil, err
	}
	var out []record
	for _, r := range s.live() {
		out = append(out, *r)
	}
	return out, nil
}

// liveRecord returns a copy of one record; NotFound if absent or deleted.
func (c *Client) liveRecord(cat candor.Category, id string) (record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.category(cat)
	if err != nil {
		return record{}, err
	}
	r := s.get(id)
	if r == nil || r.Deleted {
		return record{}, candor.Errorf(candor.NotFound, "no %s item with that id on this phone", cat)
	}
	return *r, nil
}
