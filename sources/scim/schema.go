package scim

import (
	"strings"
)

// The schemas the listener serves (RFC 7643 §4 core User and Group, §4.3
// the enterprise extension). They drive everything that depends on an
// attribute: the canonical spelling of a name a sender spelt in another
// case, type checks and coercions on input, which string comparisons in a
// filter ignore case, and which attributes the client may not write.
const (
	URNUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	URNGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	URNEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

type attrType string

const (
	tString    attrType = "string"
	tBool      attrType = "boolean"
	tDecimal   attrType = "decimal"
	tInteger   attrType = "integer"
	tDateTime  attrType = "dateTime"
	tReference attrType = "reference"
	tBinary    attrType = "binary"
	tComplex   attrType = "complex"
	// tAny is an attribute of an extension this listener has no schema
	// for (Entra's custom extension attributes): kept as sent.
	tAny attrType = "any"
)

// attr is one attribute definition (RFC 7643 §7).
type attr struct {
	Name       string
	Type       attrType
	Multi      bool
	CaseExact  bool
	Required   bool
	Mutability string // readWrite (""), readOnly, writeOnly, immutable
	Returned   string // default (""), always, never
	Unique     string // none (""), server
	RefTypes   []string
	Desc       string
	Sub        []*attr
	// ValueString: a JSON string given for this complex attribute means
	// {"value": string} (Entra sends the enterprise manager that way).
	ValueString bool
}

func (a *attr) sub(name string) *attr { return findAttr(a.Sub, name) }

func findAttr(as []*attr, name string) *attr {
	for _, a := range as {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

type schemaDef struct {
	ID, Name, Desc string
	Attrs          []*attr
}

// resourceType is what one endpoint serves.
type resourceType struct {
	Kind       Kind
	Endpoint   string // "/Users"
	Desc       string
	Core       *schemaDef
	Extensions []*schemaDef
}

func (rt *resourceType) ext(urn string) *schemaDef {
	for _, s := range rt.Extensions {
		if strings.EqualFold(s.ID, urn) {
			return s
		}
	}
	return nil
}

func str(name, desc string) *attr { return &attr{Name: name, Type: tString, Desc: desc} }

// multi is a multi-valued complex attribute with the usual value/display/
// type/primary sub-attributes (RFC 7643 §2.4).
func multi(name, desc string, valueType attrType) *attr {
	return &attr{Name: name, Type: tComplex, Multi: true, Desc: desc, Sub: []*attr{
		{Name: "value", Type: valueType, Desc: "The value."},
		str("display", "A human-readable name, primarily used for display purposes."),
		str("type", "A label indicating the attribute's function."),
		{Name: "primary", Type: tBool, Desc: "Indicates the preferred value."},
	}}
}

// Attributes every resource has (RFC 7643 §3.1).
var (
	attrID = &attr{Name: "id", Type: tString, CaseExact: true, Mutability: "readOnly", Returned: "always", Unique: "server",
		Desc: "Unique identifier for the resource, assigned by the service provider."}
	attrExternalID = &attr{Name: "externalId", Type: tString, CaseExact: true,
		Desc: "Identifier of the resource as defined by the provisioning client (not unique)."}
	attrMeta = &attr{Name: "meta", Type: tComplex, Mutability: "readOnly", Desc: "Resource metadata.", Sub: []*attr{
		{Name: "resourceType", Type: tString, CaseExact: true, Mutability: "readOnly"},
		{Name: "created", Type: tDateTime, Mutability: "readOnly"},
		{Name: "lastModified", Type: tDateTime, Mutability: "readOnly"},
		{Name: "location", Type: tReference, Mutability: "readOnly", RefTypes: []string{"uri"}},
		{Name: "version", Type: tString, CaseExact: true, Mutability: "readOnly"},
	}}
	commonAttrs = []*attr{attrID, attrExternalID, attrMeta}
)

var userSchema = &schemaDef{ID: URNUser, Name: "User", Desc: "User Account", Attrs: []*attr{
	{Name: "userName", Type: tString, Required: true, Unique: "server",
		Desc: "Unique identifier for the User, used to authenticate; compared case-insensitively."},
	{Name: "name", Type: tComplex, Desc: "The components of the user's real name.", Sub: []*attr{
		str("formatted", "The full name."), str("familyName", "The family name."), str("givenName", "The given name."),
		str("middleName", "The middle name(s)."), str("honorificPrefix", "The honorific prefix(es)."),
		str("honorificSuffix", "The honorific suffix(es)."),
	}},
	str("displayName", "The name of the User, suitable for display to end-users."),
	str("nickName", "The casual way to address the user."),
	{Name: "profileUrl", Type: tReference, RefTypes: []string{"external"}, Desc: "A URI of the user's online profile."},
	str("title", "The user's title."),
	str("userType", "The relationship between the organization and the user."),
	str("preferredLanguage", "The user's preferred written or spoken language."),
	str("locale", "The user's default location for localizing."),
	str("timezone", "The User's time zone (IANA name)."),
	{Name: "active", Type: tBool, Desc: "The user's administrative status; false is a soft delete (disabled)."},
	{Name: "password", Type: tString, Mutability: "writeOnly", Returned: "never",
		Desc: "Accepted and discarded: idsync never stores credentials."},
	multi("emails", "Email addresses for the user.", tString),
	multi("phoneNumbers", "Phone numbers for the User.", tString),
	multi("ims", "Instant messaging addresses for the User.", tString),
	multi("photos", "URLs of photos of the User.", tReference),
	{Name: "addresses", Type: tComplex, Multi: true, Desc: "A physical mailing address for this User.", Sub: []*attr{
		str("formatted", "The full mailing address."), str("streetAddress", "The street address."),
		str("locality", "The city or locality."), str("region", "The state or region."),
		str("postalCode", "The zip code or postal code."), str("country", "The country name."),
		str("type", "A label indicating the attribute's function."),
		{Name: "primary", Type: tBool, Desc: "Indicates the preferred address."},
	}},
	{Name: "groups", Type: tComplex, Multi: true, Mutability: "readOnly",
		Desc: "Groups the user belongs to; change membership through the Group resource.", Sub: []*attr{
			{Name: "value", Type: tString, CaseExact: true, Mutability: "readOnly"},
			{Name: "$ref", Type: tReference, Mutability: "readOnly", RefTypes: []string{"Group"}},
			{Name: "display", Type: tString, Mutability: "readOnly"},
			{Name: "type", Type: tString, Mutability: "readOnly"},
		}},
	multi("entitlements", "A list of entitlements for the User.", tString),
	multi("roles", "A list of roles for the User.", tString),
	multi("x509Certificates", "A list of certificates issued to the User.", tBinary),
}}

var enterpriseSchema = &schemaDef{ID: URNEnterprise, Name: "EnterpriseUser", Desc: "Enterprise User", Attrs: []*attr{
	str("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
	str("costCenter", "Identifies the name of a cost center."),
	str("organization", "Identifies the name of an organization."),
	str("division", "Identifies the name of a division."),
	str("department", "Identifies the name of a department."),
	{Name: "manager", Type: tComplex, ValueString: true, Desc: "The User's manager.", Sub: []*attr{
		{Name: "value", Type: tString, CaseExact: true, Desc: "The id of the SCIM resource representing the manager."},
		{Name: "$ref", Type: tReference, RefTypes: []string{"User"}, Desc: "The URI of the manager's resource."},
		{Name: "displayName", Type: tString, Mutability: "readOnly", Desc: "The displayName of the manager."},
	}},
}}

var groupSchema = &schemaDef{ID: URNGroup, Name: "Group", Desc: "Group", Attrs: []*attr{
	{Name: "displayName", Type: tString, Required: true, Desc: "A human-readable name for the Group."},
	{Name: "members", Type: tComplex, Multi: true, Desc: "A list of members of the Group.", Sub: []*attr{
		{Name: "value", Type: tString, CaseExact: true, Mutability: "immutable", Desc: "Identifier of the member."},
		{Name: "$ref", Type: tReference, Mutability: "immutable", RefTypes: []string{"User", "Group"}, Desc: "The URI of the member."},
		{Name: "display", Type: tString, Desc: "A human-readable name of the member."},
		{Name: "type", Type: tString, Mutability: "immutable", Desc: "User or Group."},
	}},
}}

var (
	userType  = &resourceType{Kind: KindUser, Endpoint: "/Users", Desc: "User Account", Core: userSchema, Extensions: []*schemaDef{enterpriseSchema}}
	groupType = &resourceType{Kind: KindGroup, Endpoint: "/Groups", Desc: "Group", Core: groupSchema}
)

func typeOf(k Kind) *resourceType {
	if k == KindGroup {
		return groupType
	}
	return userType
}
