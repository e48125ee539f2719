// gpconnect-mock: builds the GP Connect JWT at send time (unsigned, alg none;
// iat = now, exp = iat + 300), so it never goes stale.
// Postman runs this script before each request's own pre-request script. A
// request's script sets gpcScope (and, for patient-centred DSTU2 calls,
// gpcNhsNumber), then calls gpcMock.setJwt(), which puts the token in
// {{gpcJwt}}. The practitioner, organisation and device come from the
// environment (gpcPractitionerId, gpcOrganizationOdsCode, gpcDeviceValue, ...).
// gpcMock is global on purpose (no var/let/const): request scripts call it,
// passing their own pm (this script's pm sees the variables as they were
// before the request's script ran).
gpcMock = (function () {
    // Filled in at export, for the definition's FHIR era.
    var era = __GPCMOCK_ERA__;
    var systems = __GPCMOCK_SYSTEMS__;
    var defaults = __GPCMOCK_DEFAULTS__;
    var alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

    function utf8(text) {
        var bytes = [];
        for (var i = 0; i < text.length; i++) {
            var code = text.charCodeAt(i);
            if (code >= 0xd800 && code < 0xdc00 && i + 1 < text.length) {
                var low = text.charCodeAt(i + 1);
                if (low >= 0xdc00 && low < 0xe000) {
                    code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                    i++;
                }
            }
            if (code >= 0xd800 && code < 0xe000) {
                code = 0xfffd; // a lone surrogate
            }
            if (code < 0x80) {
                bytes.push(code);
            } else if (code < 0x800) {
                bytes.push(0xc0 | (code >> 6), 0x80 | (code & 0x3f));
            } else if (code < 0x10000) {
                bytes.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
            } else {
                bytes.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 0x3f),
                    0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
            }
        }
        return bytes;
    }

    // base64url without padding, of the UTF-8 bytes of text.
    function base64url(text) {
        var bytes = utf8(text);
        var out = '';
        for (var i = 0; i < bytes.length; i += 3) {
            var n = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8)
                | (i + 2 < bytes.length ? bytes[i + 2] : 0);
            out += alphabet.charAt((n >> 18) & 63) + alphabet.charAt((n >> 12) & 63);
            if (i + 1 < bytes.length) {
                out += alphabet.charAt((n >> 6) & 63);
            }
            if (i + 2 < bytes.length) {
                out += alphabet.charAt(n & 63);
            }
        }
        return out;
    }

    // A variable (request, environment, collection or global), else its default.
    function setting(pm, name) {
        var value = pm.variables.get(name);
        if (value === undefined || value === null || value === '') {
            return defaults[name];
        }
        return String(value);
    }

    function claims(pm, scope, nhsNumber, now) {
        var practitionerId = setting(pm, 'gpcPractitionerId');
        var out = {
            iss: setting(pm, 'gpcIss'),
            sub: practitionerId,
            aud: setting(pm, 'gpcAud'),
            exp: now + 300,
            iat: now,
            reason_for_request: setting(pm, 'gpcReason') || 'directcare',
            requested_scope: scope,
            requesting_device: {
                resourceType: 'Device',
                id: setting(pm, 'gpcDeviceId'),
                identifier: [{ system: setting(pm, 'gpcDeviceSystem'), value: setting(pm, 'gpcDeviceValue') }],
                model: setting(pm, 'gpcDeviceModel'),
                version: setting(pm, 'gpcDeviceVersion')
            },
            requesting_organization: {
                resourceType: 'Organization',
                id: '1',
                identifier: [{ system: systems.ods, value: setting(pm, 'gpcOrganizationOdsCode') }],
                name: setting(pm, 'gpcOrganizationName')
            }
        };
        if (era === 'DSTU2') {
            out.requesting_practitioner = {
                resourceType: 'Practitioner',
                id: practitionerId,
                name: {
                    family: [setting(pm, 'gpcPractitionerFamily')],
                    given: [setting(pm, 'gpcPractitionerGiven')],
                    prefix: [setting(pm, 'gpcPractitionerPrefix')]
                },
                identifier: [{ system: systems.sds, value: setting(pm, 'gpcPractitionerSdsUserId') }],
                practitionerRole: [{ role: { coding: [{
                    system: 'http://fhir.nhs.net/ValueSet/sds-job-role-name-1',
                    code: setting(pm, 'gpcPractitionerJobRole')
                }] } }]
            };
            out.requested_record = scope.indexOf('patient/') === 0
                ? { resourceType: 'Patient', identifier: [{ system: systems.nhs, value: nhsNumber }] }
                : { resourceType: 'Organization', identifier: [{ system: systems.ods, value: setting(pm, 'gpcRecordOdsCode') }] };
        } else {
            out.requesting_practitioner = {
                resourceType: 'Practitioner',
                id: practitionerId,
                name: [{
                    family: setting(pm, 'gpcPractitionerFamily'),
                    given: [setting(pm, 'gpcPractitionerGiven')],
                    prefix: [setting(pm, 'gpcPractitionerPrefix')]
                }],
                identifier: [{ system: systems.sds, value: setting(pm, 'gpcPractitionerSdsUserId') }]
            };
        }
        return out;
    }

    function jwt(pm, scope, nhsNumber, now) {
        return base64url(JSON.stringify({ alg: 'none', typ: 'JWT' })) + '.'
            + base64url(JSON.stringify(claims(pm, scope, nhsNumber, now))) + '.';
    }

    // Builds {{gpcJwt}} from gpcScope and gpcNhsNumber, now.
    function setJwt(pm) {
        var scope = setting(pm, 'gpcScope') || 'organization/*.read';
        var nhsNumber = setting(pm, 'gpcNhsNumber') || '';
        var token = jwt(pm, scope, nhsNumber, Math.floor(Date.now() / 1000));
        pm.variables.set('gpcJwt', token);
        return token;
    }

    return { base64url: base64url, claims: claims, jwt: jwt, setJwt: setJwt };
})();
gpcMock.setJwt(pm);
