// Package apiclient sends requests to the tenant-admin REST API as a client
// would, over real HTTP. It is test and benchmark support.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// Response is one answer, read to the end.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object (nil for an empty body).
func (r Response) JSON() (map[string]any, error) {
	if len(r.Body) == 0 {
		return nil, nil
	}
	var m map[string]any
	return m, json.Unmarshal(r.Body, &m)
}

// Do sends one request to base+path. body may be nil, a string or []byte
// (sent as is) or any other value (marshalled to JSON); a body is sent as
// application/json. A non-empty token is sent as a Bearer token.
func Do(ctx context.Context, base, method, path, token string, body any) (Response, error) {
	return DoWith(ctx, base, method, path, token, body, nil)
}

// DoWith is Do with extra request headers.
func DoWith(ctx context.Context, base, method, path, token string, body any, header http.Header) (Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return Response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Response{}, err
	}
	data, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, err
}
