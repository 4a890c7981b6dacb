package access

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"text/template"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	tenancyv1alpha1 "github.com/org-operator/org-operator/api/v1alpha1"
)

// ErrBaseURI explains a base URI that applications cannot be given.
var ErrBaseURI = errors.New("the access base URI must be a mongodb:// or mongodb+srv:// URI")

// Endpoint is where applications connect, without credentials: the
// operator's URI with its user, password, database and authentication
// options removed (or --access-uri).
type Endpoint struct {
	// Scheme is mongodb or mongodb+srv.
	Scheme string
	// Hosts is the comma-separated host list (one SRV name for mongodb+srv).
	Hosts string
	// Options are the URI's query options but the authentication ones.
	Options url.Values
}

// authOptions are the URI options the endpoint drops: applications
// authenticate with their own user (SCRAM) against the tenant database.
var authOptions = []string{"authsource", "authmechanism", "authmechanismproperties"}

// ParseEndpoint takes a MongoDB URI and keeps what applications need to
// reach the same servers. Its errors never contain the URI (it may hold the
// operator's password).
func ParseEndpoint(uri string) (Endpoint, error) {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok || (scheme != "mongodb" && scheme != "mongodb+srv") {
		return Endpoint{}, ErrBaseURI
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		authority = authority[at+1:]
	}
	if authority == "" {
		return Endpoint{}, fmt.Errorf("%w: it names no host", ErrBaseURI)
	}
	query := ""
	if _, q, found := strings.Cut(tail, "?"); found {
		query = q
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w: its options do not parse", ErrBaseURI)
	}
	for k := range values {
		for _, drop := range authOptions {
			if strings.EqualFold(k, drop) {
				delete(values, k)
			}
		}
	}
	return Endpoint{Scheme: scheme, Hosts: authority, Options: values}, nil
}

// URI is the connection string of user with password for database: the
// endpoint's hosts and options, authSource set to the database (where the
// users live). It is checked with the driver's own parser.
func (e Endpoint) URI(user, password, database string) (string, error) {
	opts := url.Values{}
	for k, v := range e.Options {
		opts[k] = v
	}
	opts.Set("authSource", database)
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var q []string
	for _, k := range keys {
		for _, v := range opts[k] {
			q = append(q, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	uri := e.Scheme + "://" + url.UserPassword(user, password).String() + "@" + e.Hosts + "/" + url.PathEscape(database) + "?" + strings.Join(q, "&")
	// The driver's parser resolves mongodb+srv names (DNS); check the rest
	// of an SRV URI with a plain host in its place instead.
	check := uri
	if e.Scheme == "mongodb+srv" {
		check = "mongodb://" + url.UserPassword(user, password).String() + "@srv.invalid/" + url.PathEscape(database) + "?" + strings.Join(q, "&")
	}
	if _, err := connstring.ParseAndValidate(check); err != nil {
		return "", fmt.Errorf("the connection URI for %s does not parse: %s", user, strings.ReplaceAll(err.Error(), password, "<password>"))
	}
	return uri, nil
}

// Connection is what a connection Secret says: the values its default keys
// hold and its templates see.
type Connection struct {
	URI        string
	Hosts      string
	Username   string
	Password   string
	Database   string
	Collection string
	// Filter is the tenant's document filter as JSON ({} for Dedicated).
	Filter     string
	AuthSource string
	Tenancy    string
}

// NewConnection describes user's connection to org's documents.
func NewConnection(e Endpoint, org *tenancyv1alpha1.Organization, user, password string) (Connection, error) {
	db := org.Status.Database
	uri, err := e.URI(user, password, db)
	if err != nil {
		return Connection{}, err
	}
	tenancy := string(tenancyv1alpha1.TenancyDedicated)
	filter := "{}"
	if org.Status.DocumentFilter != "" {
		tenancy, filter = string(tenancyv1alpha1.TenancyShared), org.Status.DocumentFilter
	}
	return Connection{URI: uri, Hosts: e.Hosts, Username: user, Password: password, Database: db,
		Collection: org.Status.Collection, Filter: filter, AuthSource: db, Tenancy: tenancy}, nil
}

// ErrTemplate marks a spec.secretTemplate value that does not parse or render.
var ErrTemplate = errors.New("invalid secretTemplate")

// SecretData is the connection Secret's data: the default keys, then each
// template rendered over c (a template key replaces a default key of the
// same name). A template that does not parse or fails to render is an
// ErrTemplate naming its key; the message never contains a credential.
func SecretData(c Connection, templates map[string]string) (map[string][]byte, error) {
	data := map[string][]byte{
		tenancyv1alpha1.AccessKeyURI:        []byte(c.URI),
		tenancyv1alpha1.AccessKeyUsername:   []byte(c.Username),
		tenancyv1alpha1.AccessKeyPassword:   []byte(c.Password),
		tenancyv1alpha1.AccessKeyDatabase:   []byte(c.Database),
		tenancyv1alpha1.AccessKeyCollection: []byte(c.Collection),
		tenancyv1alpha1.AccessKeyFilter:     []byte(c.Filter),
		tenancyv1alpha1.AccessKeyAuthSource: []byte(c.AuthSource),
	}
	keys := make([]string, 0, len(templates))
	for k := range templates {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t, err := template.New(k).Option("missingkey=error").Parse(templates[k])
		if err != nil {
			return nil, fmt.Errorf("%w: key %s does not parse: %s", ErrTemplate, k, redact(err.Error(), c))
		}
		var out bytes.Buffer
		if err := t.Execute(&out, c); err != nil {
			return nil, fmt.Errorf("%w: key %s does not render: %s", ErrTemplate, k, redact(err.Error(), c))
		}
		data[k] = out.Bytes()
	}
	return data, nil
}

// redact removes the credentials from a template error message.
func redact(msg string, c Connection) string {
	for _, secret := range []string{c.URI, c.Password} {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "<redacted>")
		}
	}
	return msg
}
