import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ var __webpack_modules__ = ({

/***/ 2203:
/***/ ((module) => {



/**
 * @typedef {Object} HttpRequest
 * @property {Record<string, string>} headers - Request headers
 * @property {string} [method] - HTTP method
 * @property {string} [url] - Request URL
 */

/**
 * @typedef {Object} HttpResponse
 * @property {Record<string, string>} headers - Response headers
 * @property {number} [status] - HTTP status code
 */

/**
 * Set of default cacheable status codes per RFC 7231 section 6.1.
 * @type {Set<number>}
 */
const statusCodeCacheableByDefault = new Set([
    200,
    203,
    204,
    206,
    300,
    301,
    308,
    404,
    405,
    410,
    414,
    501,
]);

/**
 * Set of HTTP status codes that the cache implementation understands.
 * Note: This implementation does not understand partial responses (206).
 * @type {Set<number>}
 */
const understoodStatuses = new Set([
    200,
    203,
    204,
    300,
    301,
    302,
    303,
    307,
    308,
    404,
    405,
    410,
    414,
    501,
]);

/**
 * Set of HTTP error status codes.
 * @type {Set<number>}
 */
const errorStatusCodes = new Set([
    500,
    502,
    503,
    504,
]);

/**
 * Object representing hop-by-hop headers that should be removed.
 * @type {Record<string, boolean>}
 */
const hopByHopHeaders = {
    date: true, // included, because we add Age update Date
    connection: true,
    'keep-alive': true,
    'proxy-authenticate': true,
    'proxy-authorization': true,
    te: true,
    trailer: true,
    'transfer-encoding': true,
    upgrade: true,
};

/**
 * Headers that are excluded from revalidation update.
 * @type {Record<string, boolean>}
 */
const excludedFromRevalidationUpdate = {
    // Since the old body is reused, it doesn't make sense to change properties of the body
    'content-length': true,
    'content-encoding': true,
    'transfer-encoding': true,
    'content-range': true,
};

/**
 * Converts a string to a number or returns zero if the conversion fails.
 * @param {string} s - The string to convert.
 * @returns {number} The parsed number or 0.
 */
function toNumberOrZero(s) {
    const n = parseInt(s, 10);
    return isFinite(n) ? n : 0;
}

/**
 * Determines if the given response is an error response.
 * Implements RFC 5861 behavior.
 * @param {HttpResponse|undefined} response - The HTTP response object.
 * @returns {boolean} true if the response is an error or undefined, false otherwise.
 */
function isErrorResponse(response) {
    // consider undefined response as faulty
    if (!response) {
        return true;
    }
    return errorStatusCodes.has(response.status);
}

/**
 * Parses a Cache-Control header string into an object.
 * @param {string} [header] - The Cache-Control header value.
 * @returns {Record<string, string|boolean>} An object representing Cache-Control directives.
 */
function parseCacheControl(header) {
    /** @type {Record<string, string|boolean>} */
    const cc = {};
    if (!header) return cc;

    // TODO: When there is more than one value present for a given directive (e.g., two Expires header fields, multiple Cache-Control: max-age directives),
    // the directive's value is considered invalid. Caches are encouraged to consider responses that have invalid freshness information to be stale
    const parts = header.trim().split(/,/);
    for (const part of parts) {
        const [k, v] = part.split(/=/, 2);
        cc[k.trim()] = v === undefined ? true : v.trim().replace(/^"|"$/g, '');
    }

    return cc;
}

/**
 * Formats a Cache-Control directives object into a header string.
 * @param {Record<string, string|boolean>} cc - The Cache-Control directives.
 * @returns {string|undefined} A formatted Cache-Control header string or undefined if empty.
 */
function formatCacheControl(cc) {
    let parts = [];
    for (const k in cc) {
        const v = cc[k];
        parts.push(v === true ? k : k + '=' + v);
    }
    if (!parts.length) {
        return undefined;
    }
    return parts.join(', ');
}

module.exports = class CachePolicy {
    /**
     * Creates a new CachePolicy instance.
     * @param {HttpRequest} req - Incoming client request.
     * @param {HttpResponse} res - Received server response.
     * @param {Object} [options={}] - Configuration options.
     * @param {boolean} [options.shared=true] - Is the cache shared (a public proxy)? `false` for personal browser caches.
     * @param {number} [options.cacheHeuristic=0.1] - Fallback heuristic (age fraction) for cache duration.
     * @param {number} [options.immutableMinTimeToLive=86400000] - Minimum TTL for immutable responses in milliseconds.
     * @param {boolean} [options.ignoreCargoCult=false] - Detect nonsense cache headers, and override them.
     * @param {any} [options._fromObject] - Internal parameter for deserialization. Do not use.
     */
    constructor(
        req,
        res,
        {
            shared,
            cacheHeuristic,
            immutableMinTimeToLive,
            ignoreCargoCult,
            _fromObject,
        } = {}
    ) {
        if (_fromObject) {
            this._fromObject(_fromObject);
            return;
        }

        if (!res || !res.headers) {
            throw Error('Response headers missing');
        }
        this._assertRequestHasHeaders(req);

        /** @type {number} Timestamp when the response was received */
        this._responseTime = this.now();
        /** @type {boolean} Indicates if the cache is shared */
        this._isShared = shared !== false;
        /** @type {boolean} Indicates if legacy cargo cult directives should be ignored */
        this._ignoreCargoCult = !!ignoreCargoCult;
        /** @type {number} Heuristic cache fraction */
        this._cacheHeuristic =
            undefined !== cacheHeuristic ? cacheHeuristic : 0.1; // 10% matches IE
        /** @type {number} Minimum TTL for immutable responses in ms */
        this._immutableMinTtl =
            undefined !== immutableMinTimeToLive
                ? immutableMinTimeToLive
                : 24 * 3600 * 1000;

        /** @type {number} HTTP status code */
        this._status = 'status' in res ? res.status : 200;
        /** @type {Record<string, string>} Response headers */
        this._resHeaders = res.headers;
        /** @type {Record<string, string|boolean>} Parsed Cache-Control directives from response */
        this._rescc = parseCacheControl(res.headers['cache-control']);
        /** @type {string} HTTP method (e.g., GET, POST) */
        this._method = 'method' in req ? req.method : 'GET';
        /** @type {string} Request URL */
        this._url = req.url;
        /** @type {string} Host header from the request */
        this._host = req.headers.host;
        /** @type {boolean} Whether the request does not include an Authorization header */
        this._noAuthorization = !req.headers.authorization;
        /** @type {Record<string, string>|null} Request headers used for Vary matching */
        this._reqHeaders = res.headers.vary ? req.headers : null; // Don't keep all request headers if they won't be used
        /** @type {Record<string, string|boolean>} Parsed Cache-Control directives from request */
        this._reqcc = parseCacheControl(req.headers['cache-control']);

        // Assume that if someone uses legacy, non-standard uncecessary options they don't understand caching,
        // so there's no point stricly adhering to the blindly copy&pasted directives.
        if (
            this._ignoreCargoCult &&
            'pre-check' in this._rescc &&
            'post-check' in this._rescc
        ) {
            delete this._rescc['pre-check'];
            delete this._rescc['post-check'];
            delete this._rescc['no-cache'];
            delete this._rescc['no-store'];
            delete this._rescc['must-revalidate'];
            this._resHeaders = Object.assign({}, this._resHeaders, {
                'cache-control': formatCacheControl(this._rescc),
            });
            delete this._resHeaders.expires;
            delete this._resHeaders.pragma;
        }

        // When the Cache-Control header field is not present in a request, caches MUST consider the no-cache request pragma-directive
        // as having the same effect as if "Cache-Control: no-cache" were present (see Section 5.2.1).
        if (
            res.headers['cache-control'] == null &&
            /no-cache/.test(res.headers.pragma)
        ) {
            this._rescc['no-cache'] = true;
        }
    }

    /**
     * You can monkey-patch it for testing.
     * @returns {number} Current time in milliseconds.
     */
    now() {
        return Date.now();
    }

    /**
     * Determines if the response is storable in a cache.
     * @returns {boolean} `false` if can never be cached.
     */
    storable() {
        // The "no-store" request directive indicates that a cache MUST NOT store any part of either this request or any response to it.
        return !!(
            !this._reqcc['no-store'] &&
            // A cache MUST NOT store a response to any request, unless:
            // The request method is understood by the cache and defined as being cacheable, and
            ('GET' === this._method ||
                'HEAD' === this._method ||
                ('POST' === this._method && this._hasExplicitExpiration())) &&
            // the response status code is understood by the cache, and
            understoodStatuses.has(this._status) &&
            // the "no-store" cache directive does not appear in request or response header fields, and
            !this._rescc['no-store'] &&
            // the "private" response directive does not appear in the response, if the cache is shared, and
            (!this._isShared || !this._rescc.private) &&
            // the Authorization header field does not appear in the request, if the cache is shared,
            (!this._isShared ||
                this._noAuthorization ||
                this._allowsStoringAuthenticated()) &&
            // the response either:
            // contains an Expires header field, or
            (this._resHeaders.expires ||
                // contains a max-age response directive, or
                // contains a s-maxage response directive and the cache is shared, or
                // contains a public response directive.
                this._rescc['max-age'] ||
                (this._isShared && this._rescc['s-maxage']) ||
                this._rescc.public ||
                // has a status code that is defined as cacheable by default
                statusCodeCacheableByDefault.has(this._status))
        );
    }

    /**
     * @returns {boolean} true if expiration is explicitly defined.
     */
    _hasExplicitExpiration() {
        // 4.2.1 Calculating Freshness Lifetime
        return !!(
            (this._isShared && this._rescc['s-maxage']) ||
            this._rescc['max-age'] ||
            this._resHeaders.expires
        );
    }

    /**
     * @param {HttpRequest} req - a request
     * @throws {Error} if the headers are missing.
     */
    _assertRequestHasHeaders(req) {
        if (!req || !req.headers) {
            throw Error('Request headers missing');
        }
    }

    /**
     * Checks if the request matches the cache and can be satisfied from the cache immediately,
     * without having to make a request to the server.
     *
     * This doesn't support `stale-while-revalidate`. See `evaluateRequest()` for a more complete solution.
     *
     * @param {HttpRequest} req - The new incoming HTTP request.
     * @returns {boolean} `true`` if the cached response used to construct this cache policy satisfies the request without revalidation.
     */
    satisfiesWithoutRevalidation(req) {
        const result = this.evaluateRequest(req);
        return !result.revalidation;
    }

    /**
     * @param {{headers: Record<string, string>, synchronous: boolean}|undefined} revalidation - Revalidation information, if any.
     * @returns {{response: HttpResponse, revalidation: {headers: Record<string, string>, synchronous: boolean}|undefined}} An object with a cached response headers and revalidation info.
     */
    _evaluateRequestHitResult(revalidation) {
        return {
            response: {
                headers: this.responseHeaders(),
                status: this._status,
            },
            revalidation,
        };
    }

    /**
     * @param {HttpRequest} request - new incoming
     * @param {boolean} synchronous - whether revalidation must be synchronous (not s-w-r).
     * @returns {{headers: Record<string, string>, synchronous: boolean}} An object with revalidation headers and a synchronous flag.
     */
    _evaluateRequestRevalidation(request, synchronous) {
        return {
            synchronous,
            headers: this.revalidationHeaders(request),
        };
    }

    /**
     * @param {HttpRequest} request - new incoming
     * @returns {{response: undefined, revalidation: {headers: Record<string, string>, synchronous: boolean}}} An object indicating no cached response and revalidation details.
     */
    _evaluateRequestMissResult(request) {
        return {
            response: undefined,
            revalidation: this._evaluateRequestRevalidation(request, true),
        };
    }

    /**
     * Checks if the given request matches this cache entry, and how the cache can be used to satisfy it. Returns an object with:
     *
     * ```
     * {
     *     // If defined, you must send a request to the server.
     *     revalidation: {
     *         headers: {}, // HTTP headers to use when sending the revalidation response
     *         // If true, you MUST wait for a response from the server before using the cache
     *         // If false, this is stale-while-revalidate. The cache is stale, but you can use it while you update it asynchronously.
     *         synchronous: bool,
     *     },
     *     // If defined, you can use this cached response.
     *     response: {
     *         headers: {}, // Updated cached HTTP headers you must use when responding to the client
     *     },
     * }
     * ```
     * @param {HttpRequest} req - new incoming HTTP request
     * @returns {{response: HttpResponse|undefined, revalidation: {headers: Record<string, string>, synchronous: boolean}|undefined}} An object containing keys:
     *   - revalidation: { headers: Record<string, string>, synchronous: boolean } Set if you should send this to the origin server
     *   - response: HttpResponse Set if you can respond to the client with these cached headers
     */
    evaluateRequest(req) {
        this._assertRequestHasHeaders(req);

        // In all circumstances, a cache MUST NOT ignore the must-revalidate directive
        if (this._rescc['must-revalidate']) {
            return this._evaluateRequestMissResult(req);
        }

        if (!this._requestMatches(req, false)) {
            return this._evaluateRequestMissResult(req);
        }

        // When presented with a request, a cache MUST NOT reuse a stored response, unless:
        // the presented request does not contain the no-cache pragma (Section 5.4), nor the no-cache cache directive,
        // unless the stored response is successfully validated (Section 4.3), and
        const requestCC = parseCacheControl(req.headers['cache-control']);

        if (requestCC['no-cache'] || /no-cache/.test(req.headers.pragma)) {
            return this._evaluateRequestMissResult(req);
        }

        if (requestCC['max-age'] && this.age() > toNumberOrZero(requestCC['max-age'])) {
            return this._evaluateRequestMissResult(req);
        }

        if (requestCC['min-fresh'] && this.maxAge() - this.age() < toNumberOrZero(requestCC['min-fresh'])) {
            return this._evaluateRequestMissResult(req);
        }

        // the stored response is either:
        // fresh, or allowed to be served stale
        if (this.stale()) {
            // If a value is present, then the client is willing to accept a response that has
            // exceeded its freshness lifetime by no more than the specified number of seconds
            const allowsStaleWithoutRevalidation = 'max-stale' in requestCC &&
                (true === requestCC['max-stale'] || requestCC['max-stale'] > this.age() - this.maxAge());

            if (allowsStaleWithoutRevalidation) {
                return this._evaluateRequestHitResult(undefined);
            }

            if (this.useStaleWhileRevalidate()) {
                return this._evaluateRequestHitResult(this._evaluateRequestRevalidation(req, false));
            }

            return this._evaluateRequestMissResult(req);
        }

        return this._evaluateRequestHitResult(undefined);
    }

    /**
     * @param {HttpRequest} req - check if this is for the same cache entry
     * @param {boolean} allowHeadMethod - allow a HEAD method to match.
     * @returns {boolean} `true` if the request matches.
     */
    _requestMatches(req, allowHeadMethod) {
        // The presented effective request URI and that of the stored response match, and
        return !!(
            (!this._url || this._url === req.url) &&
            this._host === req.headers.host &&
            // the request method associated with the stored response allows it to be used for the presented request, and
            (!req.method ||
                this._method === req.method ||
                (allowHeadMethod && 'HEAD' === req.method)) &&
            // selecting header fields nominated by the stored response (if any) match those presented, and
            this._varyMatches(req)
        );
    }

    /**
     * Determines whether storing authenticated responses is allowed.
     * @returns {boolean} `true` if allowed.
     */
    _allowsStoringAuthenticated() {
        // following Cache-Control response directives (Section 5.2.2) have such an effect: must-revalidate, public, and s-maxage.
        return !!(
            this._rescc['must-revalidate'] ||
            this._rescc.public ||
            this._rescc['s-maxage']
        );
    }

    /**
     * Checks whether the Vary header in the response matches the new request.
     * @param {HttpRequest} req - incoming HTTP request
     * @returns {boolean} `true` if the vary headers match.
     */
    _varyMatches(req) {
        if (!this._resHeaders.vary) {
            return true;
        }

        const fields = this._resHeaders.vary
            .trim()
            .toLowerCase()
            .split(/\s*,\s*/);

        for (const name of fields) {
            // A Vary header field-value of "*" always fails to match
            if (name === '*') {
                return false;
            }

            const newReq = Object.prototype.hasOwnProperty.call(
                req.headers,
                name
            ) && req.headers[name];

            const cachedReq = Object.prototype.hasOwnProperty.call(
                this._reqHeaders,
                name
            ) && this._reqHeaders[name];

            if (newReq !== cachedReq) {
                return false;
            }
        }

        return true;
    }

    /**
     * Creates a copy of the given headers without any hop-by-hop headers.
     * @param {Record<string, string>} inHeaders - old headers from the cached response
     * @returns {Record<string, string>} A new headers object without hop-by-hop headers.
     */
    _copyWithoutHopByHopHeaders(inHeaders) {
        /** @type {Record<string, string>} */
        const headers = {};
        for (const name in inHeaders) {
            if (hopByHopHeaders[name]) continue;
            headers[name] = inHeaders[name];
        }
        // 9.1.  Connection
        if (inHeaders.connection) {
            const tokens = inHeaders.connection.trim().split(/\s*,\s*/);
            for (const name of tokens) {
                delete headers[name];
            }
        }
        if (headers.warning) {
            const warnings = headers.warning.split(/,/).filter(warning => {
                return !/^\s*1[0-9][0-9]/.test(warning);
            });
            if (!warnings.length) {
                delete headers.warning;
            } else {
                headers.warning = warnings.join(',').trim();
            }
        }
        return headers;
    }

    /**
     * Returns the response headers adjusted for serving the cached response.
     * Removes hop-by-hop headers and updates the Age and Date headers.
     * @returns {Record<string, string>} The adjusted response headers.
     */
    responseHeaders() {
        const headers = this._copyWithoutHopByHopHeaders(this._resHeaders);
        const age = this.age();

        // A cache SHOULD generate 113 warning if it heuristically chose a freshness
        // lifetime greater than 24 hours and the response's age is greater than 24 hours.
        if (
            age > 3600 * 24 &&
            !this._hasExplicitExpiration() &&
            this.maxAge() > 3600 * 24
        ) {
            headers.warning =
                (headers.warning ? `${headers.warning}, ` : '') +
                '113 - "rfc7234 5.5.4"';
        }
        headers.age = `${Math.round(age)}`;
        headers.date = new Date(this.now()).toUTCString();
        return headers;
    }

    /**
     * Returns the status code of the cached response.
     * @returns {number} The response status code.
     */
    status() {
      return this._status;
    }

    /**
     * Returns the Date header value from the response or the current time if invalid.
     * @returns {number} Timestamp (in milliseconds) representing the Date header or response time.
     */
    date() {
        const serverDate = Date.parse(this._resHeaders.date);
        if (isFinite(serverDate)) {
            return serverDate;
        }
        return this._responseTime;
    }

    /**
     * Value of the Age header, in seconds, updated for the current time.
     * May be fractional.
     * @returns {number} The age in seconds.
     */
    age() {
        let age = this._ageValue();

        const residentTime = (this.now() - this._responseTime) / 1000;
        return age + residentTime;
    }

    /**
     * @returns {number} The Age header value as a number.
     */
    _ageValue() {
        return toNumberOrZero(this._resHeaders.age);
    }

    /**
     * Possibly outdated value of applicable max-age (or heuristic equivalent) in seconds.
     * This counts since response's `Date`.
     *
     * For an up-to-date value, see `timeToLive()`.
     *
     * Returns the maximum age (freshness lifetime) of the response in seconds.
     * @returns {number} The max-age value in seconds.
     */
    maxAge() {
        if (!this.storable() || this._rescc['no-cache']) {
            return 0;
        }

        // Shared responses with cookies are cacheable according to the RFC, but IMHO it'd be unwise to do so by default
        // so this implementation requires explicit opt-in via public header
        if (
            this._isShared &&
            (this._resHeaders['set-cookie'] &&
                !this._rescc.public &&
                !this._rescc.immutable)
        ) {
            return 0;
        }

        if (this._resHeaders.vary === '*') {
            return 0;
        }

        if (this._isShared) {
            if (this._rescc['proxy-revalidate']) {
                return 0;
            }
            // if a response includes the s-maxage directive, a shared cache recipient MUST ignore the Expires field.
            if (this._rescc['s-maxage']) {
                return toNumberOrZero(this._rescc['s-maxage']);
            }
        }

        // If a response includes a Cache-Control field with the max-age directive, a recipient MUST ignore the Expires field.
        if (this._rescc['max-age']) {
            return toNumberOrZero(this._rescc['max-age']);
        }

        const defaultMinTtl = this._rescc.immutable ? this._immutableMinTtl : 0;

        const serverDate = this.date();
        if (this._resHeaders.expires) {
            const expires = Date.parse(this._resHeaders.expires);
            // A cache recipient MUST interpret invalid date formats, especially the value "0", as representing a time in the past (i.e., "already expired").
            if (Number.isNaN(expires) || expires < serverDate) {
                return 0;
            }
            return Math.max(defaultMinTtl, (expires - serverDate) / 1000);
        }

        if (this._resHeaders['last-modified']) {
            const lastModified = Date.parse(this._resHeaders['last-modified']);
            if (isFinite(lastModified) && serverDate > lastModified) {
                return Math.max(
                    defaultMinTtl,
                    ((serverDate - lastModified) / 1000) * this._cacheHeuristic
                );
            }
        }

        return defaultMinTtl;
    }

    /**
     * Remaining time this cache entry may be useful for, in *milliseconds*.
     * You can use this as an expiration time for your cache storage.
     *
     * Prefer this method over `maxAge()`, because it includes other factors like `age` and `stale-while-revalidate`.
     * @returns {number} Time-to-live in milliseconds.
     */
    timeToLive() {
        const age = this.maxAge() - this.age();
        const staleIfErrorAge = age + toNumberOrZero(this._rescc['stale-if-error']);
        const staleWhileRevalidateAge = age + toNumberOrZero(this._rescc['stale-while-revalidate']);
        return Math.round(Math.max(0, age, staleIfErrorAge, staleWhileRevalidateAge) * 1000);
    }

    /**
     * If true, this cache entry is past its expiration date.
     * Note that stale cache may be useful sometimes, see `evaluateRequest()`.
     * @returns {boolean} `false` doesn't mean it's fresh nor usable
     */
    stale() {
        return this.maxAge() <= this.age();
    }

    /**
     * @returns {boolean} `true` if `stale-if-error` condition allows use of a stale response.
     */
    _useStaleIfError() {
        return this.maxAge() + toNumberOrZero(this._rescc['stale-if-error']) > this.age();
    }

    /** See `evaluateRequest()` for a more complete solution
     * @returns {boolean} `true` if `stale-while-revalidate` is currently allowed.
     */
    useStaleWhileRevalidate() {
        const swr = toNumberOrZero(this._rescc['stale-while-revalidate']);
        return swr > 0 && this.maxAge() + swr > this.age();
    }

    /**
     * Creates a `CachePolicy` instance from a serialized object.
     * @param {Object} obj - The serialized object.
     * @returns {CachePolicy} A new CachePolicy instance.
     */
    static fromObject(obj) {
        return new this(undefined, undefined, { _fromObject: obj });
    }

    /**
     * @param {any} obj - The serialized object.
     * @throws {Error} If already initialized or if the object is invalid.
     */
    _fromObject(obj) {
        if (this._responseTime) throw Error('Reinitialized');
        if (!obj || obj.v !== 1) throw Error('Invalid serialization');

        this._responseTime = obj.t;
        this._isShared = obj.sh;
        this._cacheHeuristic = obj.ch;
        this._immutableMinTtl =
            obj.imm !== undefined ? obj.imm : 24 * 3600 * 1000;
        this._ignoreCargoCult = !!obj.icc;
        this._status = obj.st;
        this._resHeaders = obj.resh;
        this._rescc = obj.rescc;
        this._method = obj.m;
        this._url = obj.u;
        this._host = obj.h;
        this._noAuthorization = obj.a;
        this._reqHeaders = obj.reqh;
        this._reqcc = obj.reqcc;
    }

    /**
     * Serializes the `CachePolicy` instance into a JSON-serializable object.
     * @returns {Object} The serialized object.
     */
    toObject() {
        return {
            v: 1,
            t: this._responseTime,
            sh: this._isShared,
            ch: this._cacheHeuristic,
            imm: this._immutableMinTtl,
            icc: this._ignoreCargoCult,
            st: this._status,
            resh: this._resHeaders,
            rescc: this._rescc,
            m: this._method,
            u: this._url,
            h: this._host,
            a: this._noAuthorization,
            reqh: this._reqHeaders,
            reqcc: this._reqcc,
        };
    }

    /**
     * Headers for sending to the origin server to revalidate stale response.
     * Allows server to return 304 to allow reuse of the previous response.
     *
     * Hop by hop headers are always stripped.
     * Revalidation headers may be added or removed, depending on request.
     * @param {HttpRequest} incomingReq - The incoming HTTP request.
     * @returns {Record<string, string>} The headers for the revalidation request.
     */
    revalidationHeaders(incomingReq) {
        this._assertRequestHasHeaders(incomingReq);
        const headers = this._copyWithoutHopByHopHeaders(incomingReq.headers);

        // This implementation does not understand range requests
        delete headers['if-range'];

        if (!this._requestMatches(incomingReq, true) || !this.storable()) {
            // revalidation allowed via HEAD
            // not for the same resource, or wasn't allowed to be cached anyway
            delete headers['if-none-match'];
            delete headers['if-modified-since'];
            return headers;
        }

        /* MUST send that entity-tag in any cache validation request (using If-Match or If-None-Match) if an entity-tag has been provided by the origin server. */
        if (this._resHeaders.etag) {
            headers['if-none-match'] = headers['if-none-match']
                ? `${headers['if-none-match']}, ${this._resHeaders.etag}`
                : this._resHeaders.etag;
        }

        // Clients MAY issue simple (non-subrange) GET requests with either weak validators or strong validators. Clients MUST NOT use weak validators in other forms of request.
        const forbidsWeakValidators =
            headers['accept-ranges'] ||
            headers['if-match'] ||
            headers['if-unmodified-since'] ||
            (this._method && this._method != 'GET');

        /* SHOULD send the Last-Modified value in non-subrange cache validation requests (using If-Modified-Since) if only a Last-Modified value has been provided by the origin server.
        Note: This implementation does not understand partial responses (206) */
        if (forbidsWeakValidators) {
            delete headers['if-modified-since'];

            if (headers['if-none-match']) {
                const etags = headers['if-none-match']
                    .split(/,/)
                    .filter(etag => {
                        return !/^\s*W\//.test(etag);
                    });
                if (!etags.length) {
                    delete headers['if-none-match'];
                } else {
                    headers['if-none-match'] = etags.join(',').trim();
                }
            }
        } else if (
            this._resHeaders['last-modified'] &&
            !headers['if-modified-since']
        ) {
            headers['if-modified-since'] = this._resHeaders['last-modified'];
        }

        return headers;
    }

    /**
     * Creates new CachePolicy with information combined from the previews response,
     * and the new revalidation response.
     *
     * Returns {policy, modified} where modified is a boolean indicating
     * whether the response body has been modified, and old cached body can't be used.
     *
     * @param {HttpRequest} request - The latest HTTP request asking for the cached entry.
     * @param {HttpResponse} response - The latest revalidation HTTP response from the origin server.
     * @returns {{policy: CachePolicy, modified: boolean, matches: boolean}} The updated policy and modification status.
     * @throws {Error} If the response headers are missing.
     */
    revalidatedPolicy(request, response) {
        this._assertRequestHasHeaders(request);

        if (this._useStaleIfError() && isErrorResponse(response)) {
          return {
              policy: this,
              modified: false,
              matches: true,
          };
        }

        if (!response || !response.headers) {
            throw Error('Response headers missing');
        }

        // These aren't going to be supported exactly, since one CachePolicy object
        // doesn't know about all the other cached objects.
        let matches = false;
        if (response.status !== undefined && response.status != 304) {
            matches = false;
        } else if (
            response.headers.etag &&
            !/^\s*W\//.test(response.headers.etag)
        ) {
            // "All of the stored responses with the same strong validator are selected.
            // If none of the stored responses contain the same strong validator,
            // then the cache MUST NOT use the new response to update any stored responses."
            matches =
                this._resHeaders.etag &&
                this._resHeaders.etag.replace(/^\s*W\//, '') ===
                    response.headers.etag;
        } else if (this._resHeaders.etag && response.headers.etag) {
            // "If the new response contains a weak validator and that validator corresponds
            // to one of the cache's stored responses,
            // then the most recent of those matching stored responses is selected for update."
            matches =
                this._resHeaders.etag.replace(/^\s*W\//, '') ===
                response.headers.etag.replace(/^\s*W\//, '');
        } else if (this._resHeaders['last-modified']) {
            matches =
                this._resHeaders['last-modified'] ===
                response.headers['last-modified'];
        } else {
            // If the new response does not include any form of validator (such as in the case where
            // a client generates an If-Modified-Since request from a source other than the Last-Modified
            // response header field), and there is only one stored response, and that stored response also
            // lacks a validator, then that stored response is selected for update.
            if (
                !this._resHeaders.etag &&
                !this._resHeaders['last-modified'] &&
                !response.headers.etag &&
                !response.headers['last-modified']
            ) {
                matches = true;
            }
        }

        const optionsCopy = {
            shared: this._isShared,
            cacheHeuristic: this._cacheHeuristic,
            immutableMinTimeToLive: this._immutableMinTtl,
            ignoreCargoCult: this._ignoreCargoCult,
        };

        if (!matches) {
            return {
                policy: new this.constructor(request, response, optionsCopy),
                // Client receiving 304 without body, even if it's invalid/mismatched has no option
                // but to reuse a cached body. We don't have a good way to tell clients to do
                // error recovery in such case.
                modified: response.status != 304,
                matches: false,
            };
        }

        // use other header fields provided in the 304 (Not Modified) response to replace all instances
        // of the corresponding header fields in the stored response.
        const headers = {};
        for (const k in this._resHeaders) {
            headers[k] =
                k in response.headers && !excludedFromRevalidationUpdate[k]
                    ? response.headers[k]
                    : this._resHeaders[k];
        }

        const newResponse = Object.assign({}, response, {
            status: this._status,
            method: this._method,
            headers,
        });
        return {
            policy: new this.constructor(request, newResponse, optionsCopy),
            modified: false,
            matches: true,
        };
    }
};


/***/ }),

/***/ 6394:
/***/ ((module, __unused_webpack___webpack_exports__, __nccwpck_require__) => {

__nccwpck_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony import */ var _post_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(3087);

await (0,_post_js__WEBPACK_IMPORTED_MODULE_0__/* .post */ .b)();

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } }, 1);

/***/ }),

/***/ 3087:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  b: () => (/* binding */ post)
});

// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 16 modules
var lib_core = __nccwpck_require__(5658);
;// CONCATENATED MODULE: ./src/lib/constants.ts
const MODES = ['create', 'delete', 'prune', 'restore', 'copy', 'verify'];
/** Names of the action's inputs and outputs: action.yml, the code and the tests use these. */
const constants_Input = {
    Mode: 'mode',
    Region: 'region',
    Instance: 'instance',
    InstanceTags: 'instance-tags',
    InstanceMetadata: 'instance-metadata',
    AllowEmptySelection: 'allow-empty-selection',
    StopInstance: 'stop-instance',
    SnapshotName: 'snapshot-name',
    SnapshotId: 'snapshot-id',
    SnapshotProperties: 'snapshot-properties',
    Wait: 'wait',
    UploadTimeout: 'upload-timeout',
    Timeout: 'timeout',
    IgnoreMissing: 'ignore-missing',
    AuthUrl: 'auth-url',
    Username: 'username',
    Password: 'password',
    UserDomainName: 'user-domain-name',
    ProjectId: 'project-id',
    ProjectName: 'project-name',
    ProjectDomainName: 'project-domain-name',
    ProjectDomainId: 'project-domain-id',
    ApplicationCredentialId: 'application-credential-id',
    ApplicationCredentialSecret: 'application-credential-secret',
    AuthType: 'auth-type',
    Cloud: 'cloud',
    UserDomainId: 'user-domain-id',
    Token: 'token',
    ClientId: 'client-id',
    ClientSecret: 'client-secret',
    IdentityProvider: 'identity-provider',
    Protocol: 'protocol',
    DiscoveryEndpoint: 'discovery-endpoint',
    AccessTokenEndpoint: 'access-token-endpoint',
    OpenidScope: 'openid-scope',
    AccessTokenType: 'access-token-type',
    OidcAudience: 'oidc-audience',
    Interface: 'interface',
    Cacert: 'cacert',
    Insecure: 'insecure',
    KeepLast: 'keep-last',
    KeepWithin: 'keep-within',
    KeepHourly: 'keep-hourly',
    KeepDaily: 'keep-daily',
    KeepWeekly: 'keep-weekly',
    KeepMonthly: 'keep-monthly',
    KeepYearly: 'keep-yearly',
    IncludeUnmanaged: 'include-unmanaged',
    DryRun: 'dry-run',
    DeleteInUse: 'delete-in-use',
    AllowOtherInstance: 'allow-other-instance',
    SnapshotBefore: 'snapshot-before',
    MaxDeletes: 'max-deletes',
    MaxParallel: 'max-parallel',
    RateLimit: 'rate-limit',
    /** Boot a throwaway server from the snapshot (mode verify; create after active). */
    Verify: 'verify',
    VerifyFlavor: 'verify-flavor',
    VerifyNetwork: 'verify-network',
    VerifyConsole: 'verify-console',
    KeepVerified: 'keep-verified',
    /** Regions (one a line) to copy the snapshot to: mode create once it is active, and mode copy. */
    CopyToRegion: 'copy-to-region',
};
/**
 * Inputs renamed before the first release. The runner still passes a `with:` key it does not
 * know (as INPUT_<NAME>, with a warning), so one given under its old name fails the step instead of being ignored.
 */
const RENAMED_INPUTS = {
    'image-id': constants_Input.SnapshotId,
    metadata: constants_Input.SnapshotProperties,
    'stop-server': constants_Input.StopInstance,
    concurrency: constants_Input.MaxParallel,
};
const constants_Output = {
    SnapshotId: 'snapshot-id',
    SnapshotName: 'snapshot-name',
    SnapshotStatus: 'snapshot-status',
    SnapshotSize: 'snapshot-size',
    InstanceId: 'instance-id',
    InstanceName: 'instance-name',
    VolumeBacked: 'volume-backed',
    VolumeSnapshotIds: 'volume-snapshot-ids',
    Duration: 'duration-seconds',
    DeletedSnapshotIds: 'deleted-snapshot-ids',
    DeletedCount: 'deleted-count',
    PlannedSnapshotIds: 'planned-snapshot-ids',
    KeptSnapshotIds: 'kept-snapshot-ids',
    PreviousImageId: 'previous-image-id',
    BackupSnapshotId: 'backup-snapshot-id',
    Snapshots: 'snapshots',
    Consistency: 'consistency',
    DowntimeSeconds: 'downtime-seconds',
    ApiRequests: 'api-requests',
    CapturedAt: 'captured-at',
    /** Mode verify (and create with verify: true): per server, the snapshot booted and how it went (JSON). */
    Verifications: 'verifications',
    /** The copies in other regions: JSON, one entry a copy (region, image ID, bytes, seconds, method). */
    Copies: 'copies',
};
/** Properties this action sets on the images it creates, so later runs (and people) can find them. */
const constants_Property = {
    ManagedBy: 'managed_by',
    InstanceId: 'source_instance_id',
    InstanceName: 'source_instance_name',
    RequestId: 'snapshot_request_id',
    /** On the snapshot restore takes before it rebuilds (snapshot-before): the image it restored. */
    BeforeRestoreOf: 'taken_before_restore_of',
    /** The job and step (GITHUB_JOB, GITHUB_ACTION) that took it: with github_run_id, how a re-run finds the snapshot it already took. */
    Job: 'github_job',
    Step: 'github_action',
    /** On a snapshot a verify booted: when it booted (only when it did), and how the last verify went (passed or failed). */
    VerifiedAt: 'verified_at',
    VerifyResult: 'verify_result',
    VerifyCheckedAt: 'verify_checked_at',
    /** On a verify's throwaway server and the volumes Nova made for it: the snapshot it boots, the instance it is of, the run that made it. */
    VerifyOf: 'verify_of',
    VerifyInstance: 'verify_instance',
    VerifyRun: 'verify_run',
    /** On a throwaway server: this boot's own ID, to find it when Nova's answer to the create was lost. */
    VerifyRequest: 'verify_request_id',
    /** On a copy in another region: the region and the image it was copied from. */
    CopiedFromRegion: 'copied_from_region',
    CopiedFromImage: 'copied_from_image',
};
const constants_MANAGED_BY = 'openstack-snapshot-action';
/** The name of a verify's throwaway server: this prefix and the snapshot's ID. */
const constants_VERIFY_PREFIX = 'osa-verify-';
/** `wait: captured`: the step returns once each disk is captured, and the post step waits for the upload. */
const constants_WAIT_CAPTURED = 'captured';

// EXTERNAL MODULE: external "node:async_hooks"
var external_node_async_hooks_ = __nccwpck_require__(6698);
;// CONCATENATED MODULE: ./src/lib/log.ts


/** Makes a Text: only this module can, so `t` and `join` are the only ways to one. */
let make;
/**
 * A message fit for the log: built with `t`, which treats every interpolated value as data.
 * The sinks below take only this type, so no text from the cloud or a user reaches the runner
 * without passing through `neutralise` (the compiler refuses a plain string).
 */
class Text {
    #value;
    constructor(value) {
        this.#value = value;
    }
    static {
        make = (value) => new Text(value);
    }
    toString() {
        return this.#value;
    }
}
/**
 * Characters that would let data end a log line or hide what it says: line breaks (the runner
 * also ends a line at a lone \r, and .NET at U+2028/2029), other controls, and the bidi overrides
 * that reorder what a reader sees.
 */
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED = { '\n': '\\n', '\r': '\\r' };
/**
 * Data as it may stand in a log line, an annotation or an output: no line breaks or controls
 * (shown escaped, as JSON would), and no legacy `##[command]` prefix, which the runner reads
 * anywhere in a line. A new line is the only way to start a `::command::`, so none can be forged.
 */
function neutralise(value) {
    return value.replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).replace(/##\[/g, '#\\u0023[');
}
function fragment(value) {
    if (value instanceof Text)
        return value.toString();
    if (value instanceof Error)
        return neutralise(value.message);
    return neutralise(String(value));
}
/** Tagged template: the literal parts are the action's words, every `${value}` is data. */
function log_t(strings, ...values) {
    return make(strings.reduce((out, literal, i) => out + literal + (i < values.length ? fragment(values[i]) : ''), ''));
}
/** Several messages as one, `separator` between them (the action's words, not data). */
function join(parts, separator) {
    return make(parts.map(String).join(separator));
}
/** The prefix of the lines logged inside `within`. */
const prefix = new external_node_async_hooks_.AsyncLocalStorage();
/** Run `work` with each line it logs prefixed by `[label] ` (data): servers done side by side keep their lines apart. */
function log_within(label, work) {
    return prefix.run(`[${neutralise(label)}] `, work);
}
/** Set while a group is open: the runner folds no group inside another. */
const grouped = new external_node_async_hooks_.AsyncLocalStorage();
/** A line that starts like a workflow command (only the action's own words could) is shown, not run. */
const line = (message) => (prefix.getStore() ?? '') + String(message).replace(/^(\s*)::/gm, '$1\\::');
/** The only way the action writes to the runner's log. */
const log_log = {
    info: (message) => lib_core/* info */.pq(line(message)),
    notice: (message, properties) => lib_core/* notice */.lm(line(message), properties),
    warning: (message, properties) => lib_core/* warning */.$e(line(message), properties),
    fail: (message) => lib_core/* setFailed */.C1(line(message)),
    /** Debug lines from the OpenStack layer (URLs, statuses, error codes) are data as a whole. */
    debug: (raw) => lib_core/* debug */.Yz(neutralise(raw)),
    /** Outputs are data for later steps: one line each, whatever the cloud put in a name. */
    output: (name, value) => lib_core/* setOutput */.uH(name, neutralise(value)),
    /**
     * The lines `work` logs, folded under `title` in the log (a long listing). Inside another group
     * (a prune after each snapshot of a fleet) they are logged as they come.
     */
    group: async (title, work) => {
        if (grouped.getStore())
            return work();
        lib_core/* startGroup */.Oh(line(title));
        try {
            return await grouped.run(true, work);
        }
        finally {
            lib_core/* endGroup */.N4();
        }
    },
};

// EXTERNAL MODULE: external "node:http"
var external_node_http_ = __nccwpck_require__(7067);
;// CONCATENATED MODULE: external "node:timers/promises"
const promises_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:timers/promises");
;// CONCATENATED MODULE: ./node_modules/@sindresorhus/is/distribution/utilities.js
function keysOf(value) {
    return Object.keys(value);
}

;// CONCATENATED MODULE: ./node_modules/@sindresorhus/is/distribution/index.js

const typedArrayTypeNames = [
    'Int8Array',
    'Uint8Array',
    'Uint8ClampedArray',
    'Int16Array',
    'Uint16Array',
    'Int32Array',
    'Uint32Array',
    'Float32Array',
    'Float64Array',
    'BigInt64Array',
    'BigUint64Array',
];
function isTypedArrayName(name) {
    return typedArrayTypeNames.includes(name);
}
const objectTypeNames = [
    'Function',
    'Generator',
    'AsyncGenerator',
    'GeneratorFunction',
    'AsyncGeneratorFunction',
    'AsyncFunction',
    'Observable',
    'Array',
    'Buffer',
    'Blob',
    'Object',
    'RegExp',
    'Date',
    'Error',
    'Map',
    'Set',
    'WeakMap',
    'WeakSet',
    'WeakRef',
    'ArrayBuffer',
    'SharedArrayBuffer',
    'DataView',
    'Promise',
    'URL',
    'FormData',
    'URLSearchParams',
    'HTMLElement',
    'NaN',
    ...typedArrayTypeNames,
];
function isObjectTypeName(name) {
    return objectTypeNames.includes(name);
}
const primitiveTypeNames = [
    'null',
    'undefined',
    'string',
    'number',
    'bigint',
    'boolean',
    'symbol',
];
function isPrimitiveTypeName(name) {
    return primitiveTypeNames.includes(name);
}
const assertionTypeDescriptions = [
    'bound Function',
    'positive number',
    'negative number',
    'Class',
    'string with a number',
    'null or undefined',
    'Iterable',
    'AsyncIterable',
    'native Promise',
    'EnumCase',
    'string with a URL',
    'truthy',
    'falsy',
    'primitive',
    'integer',
    'plain object',
    'TypedArray',
    'array-like',
    'tuple-like',
    'Node.js Stream',
    'infinite number',
    'empty array',
    'non-empty array',
    'empty string',
    'empty string or whitespace',
    'non-empty string',
    'non-empty string and not whitespace',
    'empty object',
    'non-empty object',
    'empty set',
    'non-empty set',
    'empty map',
    'non-empty map',
    'PropertyKey',
    'even integer',
    'finite number',
    'negative integer',
    'non-negative integer',
    'non-negative number',
    'odd integer',
    'positive integer',
    'safe integer',
    'T',
    'in range',
    'predicate returns truthy for any value',
    'predicate returns truthy for all values',
    'valid Date',
    'valid length',
    'whitespace string',
    ...objectTypeNames,
    ...primitiveTypeNames,
];
const getObjectType = (value) => {
    const objectTypeName = Object.prototype.toString.call(value).slice(8, -1);
    if (/HTML\w+Element/v.test(objectTypeName) && isHtmlElement(value)) {
        return 'HTMLElement';
    }
    if (isObjectTypeName(objectTypeName)) {
        return objectTypeName;
    }
    return undefined;
};
function detect(value) {
    if (value === null) {
        return 'null';
    }
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check
    switch (typeof value) {
        case 'undefined': {
            return 'undefined';
        }
        case 'string': {
            return 'string';
        }
        case 'number': {
            return Number.isNaN(value) ? 'NaN' : 'number';
        }
        case 'boolean': {
            return 'boolean';
        }
        case 'function': {
            return 'Function';
        }
        case 'bigint': {
            return 'bigint';
        }
        case 'symbol': {
            return 'symbol';
        }
        default:
    }
    if (isObservable(value)) {
        return 'Observable';
    }
    if (isArray(value)) {
        return 'Array';
    }
    if (isBuffer(value)) {
        return 'Buffer';
    }
    const tagType = getObjectType(value);
    if (tagType !== undefined && tagType !== 'Object') {
        return tagType;
    }
    if (hasPromiseApi(value)) {
        return 'Promise';
    }
    if (isBoxedPrimitiveObject(value)) {
        throw new TypeError('Please don\'t use object wrappers for primitive types');
    }
    return 'Object';
}
function hasPromiseApi(value) {
    return isFunction(value?.then) && isFunction(value?.catch);
}
function hasBoxedPrimitiveBrand(value, valueOf) {
    try {
        // `Object.prototype.toString` can be spoofed via `Symbol.toStringTag`, but the
        // boxed primitive `valueOf` methods still enforce the real internal brand.
        Reflect.apply(valueOf, value, []);
        return true;
    }
    catch {
        return false;
    }
}
function isBoxedPrimitiveObject(value) {
    return hasBoxedPrimitiveBrand(value, String.prototype.valueOf)
        || hasBoxedPrimitiveBrand(value, Boolean.prototype.valueOf)
        || hasBoxedPrimitiveBrand(value, Number.prototype.valueOf);
}
const is = Object.assign(detect, {
    all: isAll,
    any: isAny,
    array: isArray,
    arrayBuffer: isArrayBuffer,
    arrayLike: isArrayLike,
    arrayOf: isArrayOf,
    asyncFunction: isAsyncFunction,
    asyncGenerator: isAsyncGenerator,
    asyncGeneratorFunction: isAsyncGeneratorFunction,
    asyncIterable: isAsyncIterable,
    bigint: isBigint,
    bigInt64Array: isBigInt64Array,
    bigUint64Array: isBigUint64Array,
    blob: isBlob,
    boolean: isBoolean,
    boundFunction: isBoundFunction,
    buffer: isBuffer,
    class: isClass,
    dataView: isDataView,
    date: isDate,
    detect,
    directInstanceOf: isDirectInstanceOf,
    emptyArray: isEmptyArray,
    emptyMap: isEmptyMap,
    emptyObject: isEmptyObject,
    emptySet: isEmptySet,
    emptyString: isEmptyString,
    emptyStringOrWhitespace: isEmptyStringOrWhitespace,
    enumCase: isEnumCase,
    error: isError,
    evenInteger: isEvenInteger,
    falsy: isFalsy,
    finiteNumber: isFiniteNumber,
    float32Array: isFloat32Array,
    float64Array: isFloat64Array,
    formData: isFormData,
    function: isFunction,
    generator: isGenerator,
    generatorFunction: isGeneratorFunction,
    htmlElement: isHtmlElement,
    infinite: isInfinite,
    inRange: isInRange,
    int16Array: isInt16Array,
    int32Array: isInt32Array,
    int8Array: isInt8Array,
    integer: isInteger,
    iterable: isIterable,
    map: isMap,
    nan: isNan,
    nativePromise: isNativePromise,
    negativeInteger: isNegativeInteger,
    negativeNumber: isNegativeNumber,
    nodeStream: isNodeStream,
    nonEmptyArray: isNonEmptyArray,
    nonEmptyMap: isNonEmptyMap,
    nonEmptyObject: isNonEmptyObject,
    nonEmptySet: isNonEmptySet,
    nonEmptyString: isNonEmptyString,
    nonEmptyStringAndNotWhitespace: isNonEmptyStringAndNotWhitespace,
    nonNegativeInteger: isNonNegativeInteger,
    nonNegativeNumber: isNonNegativeNumber,
    null: isNull,
    nullOrUndefined: isNullOrUndefined,
    number: isNumber,
    numericString: isNumericString,
    object: isObject,
    observable: isObservable,
    oddInteger: isOddInteger,
    oneOf: isOneOf,
    plainObject: isPlainObject,
    positiveInteger: isPositiveInteger,
    positiveNumber: isPositiveNumber,
    primitive: isPrimitive,
    promise: isPromise,
    propertyKey: isPropertyKey,
    regExp: isRegExp,
    safeInteger: isSafeInteger,
    set: isSet,
    sharedArrayBuffer: isSharedArrayBuffer,
    string: isString,
    symbol: isSymbol,
    truthy: isTruthy,
    tupleLike: isTupleLike,
    typedArray: isTypedArray,
    uint16Array: isUint16Array,
    uint32Array: isUint32Array,
    uint8Array: isUint8Array,
    uint8ClampedArray: isUint8ClampedArray,
    undefined: isUndefined,
    urlInstance: isUrlInstance,
    urlSearchParams: isUrlSearchParams,
    urlString: isUrlString,
    optional: isOptional,
    validDate: isValidDate,
    validLength: isValidLength,
    weakMap: isWeakMap,
    weakRef: isWeakRef,
    weakSet: isWeakSet,
    whitespaceString: isWhitespaceString,
});
function isAbsoluteModule2(remainder) {
    return (value) => isInteger(value) && Math.abs(value % 2) === remainder;
}
function validatePredicateArray(predicateArray, allowEmpty) {
    if (predicateArray.length === 0) {
        if (allowEmpty) {
            // Next major release: throw for empty predicate arrays to avoid vacuous results.
            // throw new TypeError('Invalid predicate array');
        }
        else {
            throw new TypeError('Invalid predicate array');
        }
        return;
    }
    for (const predicate of predicateArray) {
        validatePredicate(predicate);
    }
}
function validatePredicate(predicate) {
    if (!isFunction(predicate)) {
        throw new TypeError(`Invalid predicate: ${JSON.stringify(predicate)}`);
    }
}
function isAll(predicate, ...values) {
    if (Array.isArray(predicate)) {
        const predicateArray = predicate;
        validatePredicateArray(predicateArray, values.length === 0);
        const combinedPredicate = (value) => predicateArray.every(singlePredicate => singlePredicate(value));
        if (values.length === 0) {
            return combinedPredicate;
        }
        return predicateOnArray(Array.prototype.every, combinedPredicate, values);
    }
    return predicateOnArray(Array.prototype.every, predicate, values);
}
function isAny(predicate, ...values) {
    if (Array.isArray(predicate)) {
        const predicateArray = predicate;
        validatePredicateArray(predicateArray, values.length === 0);
        const combinedPredicate = (value) => predicateArray.some(singlePredicate => singlePredicate(value));
        if (values.length === 0) {
            return combinedPredicate;
        }
        return predicateOnArray(Array.prototype.some, combinedPredicate, values);
    }
    return predicateOnArray(Array.prototype.some, predicate, values);
}
function isOptional(value, predicate) {
    return isUndefined(value) || predicate(value);
}
function isArray(value, assertion) {
    if (!Array.isArray(value)) {
        return false;
    }
    if (!isFunction(assertion)) {
        return true;
    }
    // eslint-disable-next-line @typescript-eslint/no-unsafe-argument
    return value.every(element => assertion(element));
}
function isArrayBuffer(value) {
    return getObjectType(value) === 'ArrayBuffer';
}
function isArrayLike(value) {
    return !isNullOrUndefined(value) && !isFunction(value) && isValidLength(value.length);
}
function isArrayOf(predicate) {
    return (value) => isArray(value) && value.every(element => predicate(element));
}
function isAsyncFunction(value) {
    return getObjectType(value) === 'AsyncFunction';
}
function isAsyncGenerator(value) {
    return isAsyncIterable(value) && isFunction(value.next) && isFunction(value.throw);
}
function isAsyncGeneratorFunction(value) {
    return getObjectType(value) === 'AsyncGeneratorFunction';
}
function isAsyncIterable(value) {
    return isFunction(value?.[Symbol.asyncIterator]);
}
function isBigint(value) {
    return typeof value === 'bigint';
}
function isBigInt64Array(value) {
    return getObjectType(value) === 'BigInt64Array';
}
function isBigUint64Array(value) {
    return getObjectType(value) === 'BigUint64Array';
}
function isBlob(value) {
    return getObjectType(value) === 'Blob';
}
function isBoolean(value) {
    return value === true || value === false;
}
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
function isBoundFunction(value) {
    return isFunction(value) && !Object.hasOwn(value, 'prototype');
}
/**
Note: [Prefer using `Uint8Array` instead of `Buffer`.](https://sindresorhus.com/blog/goodbye-nodejs-buffer)
*/
function isBuffer(value) {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access
    return value?.constructor?.isBuffer?.(value) ?? false;
}
function isClass(value) {
    return isFunction(value) && /^class(?:\s+|\{)/v.test(value.toString());
}
function isDataView(value) {
    return getObjectType(value) === 'DataView';
}
function isDate(value) {
    return getObjectType(value) === 'Date';
}
function isDirectInstanceOf(instance, class_) {
    if (instance === undefined || instance === null) {
        return false;
    }
    return Object.getPrototypeOf(instance) === class_.prototype;
}
function isEmptyArray(value) {
    return isArray(value) && value.length === 0;
}
function isEmptyMap(value) {
    return isMap(value) && value.size === 0;
}
function isEmptyObject(value) {
    return isObject(value) && !isFunction(value) && !isArray(value) && !isMap(value) && !isSet(value) && Object.keys(value).length === 0;
}
function isEmptySet(value) {
    return isSet(value) && value.size === 0;
}
function isEmptyString(value) {
    return isString(value) && value.length === 0;
}
function isEmptyStringOrWhitespace(value) {
    return isEmptyString(value) || isWhitespaceString(value);
}
function isEnumCase(value, targetEnum) {
    // Numeric enums have reverse mappings (e.g. `Direction[0] = "Up"`), so their runtime object contains both `{ Up: 0 }` and `{ "0": "Up" }`. Filtering out entries that round-trip like a canonical number and point back to an own property leaves only actual enum member values.
    const enumObject = targetEnum;
    return Object.entries(enumObject).some(([key, enumValue]) => {
        if (!isString(enumValue)) {
            return enumValue === value;
        }
        const numericKey = Number(key);
        if (Number.isNaN(numericKey) || String(numericKey) !== key) {
            return enumValue === value;
        }
        return enumValue === value && !(Object.hasOwn(enumObject, enumValue) && enumObject[enumValue] === numericKey);
    });
}
function isError(value) {
    // TODO: Use `Error.isError` when targeting Node.js 24.
    return getObjectType(value) === 'Error';
}
function isEvenInteger(value) {
    return isAbsoluteModule2(0)(value);
}
// Example: `is.falsy = (value: unknown): value is (not true | 0 | '' | undefined | null) => Boolean(value);`
function isFalsy(value) {
    return !value;
}
function isFiniteNumber(value) {
    return Number.isFinite(value);
}
// TODO: Support detecting Float16Array when targeting Node.js 24.
function isFloat32Array(value) {
    return getObjectType(value) === 'Float32Array';
}
function isFloat64Array(value) {
    return getObjectType(value) === 'Float64Array';
}
function isFormData(value) {
    return getObjectType(value) === 'FormData';
}
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
function isFunction(value) {
    return typeof value === 'function';
}
function isGenerator(value) {
    return isIterable(value) && isFunction(value?.next) && isFunction(value?.throw);
}
function isGeneratorFunction(value) {
    return getObjectType(value) === 'GeneratorFunction';
}
const NODE_TYPE_ELEMENT = 1; // eslint-disable-line @typescript-eslint/naming-convention
const DOM_PROPERTIES_TO_CHECK = [
    'innerHTML',
    'ownerDocument',
    'style',
    'attributes',
    'nodeValue',
];
function isHtmlElement(value) {
    return isObject(value)
        && value.nodeType === NODE_TYPE_ELEMENT
        && isString(value.nodeName)
        && !isPlainObject(value)
        && DOM_PROPERTIES_TO_CHECK.every(property => property in value);
}
function isInfinite(value) {
    return value === Number.POSITIVE_INFINITY || value === Number.NEGATIVE_INFINITY;
}
function isInRange(value, range) {
    if (isNumber(range)) {
        return value >= Math.min(0, range) && value <= Math.max(range, 0);
    }
    if (isArray(range) && range.length === 2) {
        if (Number.isNaN(range[0]) || Number.isNaN(range[1])) {
            throw new TypeError(`Invalid range: ${JSON.stringify(range)}`);
        }
        return value >= Math.min(...range) && value <= Math.max(...range);
    }
    throw new TypeError(`Invalid range: ${JSON.stringify(range)}`);
}
function isInt16Array(value) {
    return getObjectType(value) === 'Int16Array';
}
function isInt32Array(value) {
    return getObjectType(value) === 'Int32Array';
}
function isInt8Array(value) {
    return getObjectType(value) === 'Int8Array';
}
function isInteger(value) {
    return Number.isInteger(value);
}
function isIterable(value) {
    return isFunction(value?.[Symbol.iterator]);
}
function isMap(value) {
    return getObjectType(value) === 'Map';
}
function isNan(value) {
    return Number.isNaN(value);
}
function isNativePromise(value) {
    return getObjectType(value) === 'Promise';
}
function isNegativeInteger(value) {
    return isInteger(value) && value < 0;
}
function isNegativeNumber(value) {
    return isNumber(value) && value < 0;
}
function isNodeStream(value) {
    return isObject(value) && isFunction(value.pipe) && !isObservable(value);
}
function isNonEmptyArray(value) {
    return isArray(value) && value.length > 0;
}
function isNonEmptyMap(value) {
    return isMap(value) && value.size > 0;
}
// TODO: Use `not` operator here to remove `Map` and `Set` from type guard:
// - https://github.com/Microsoft/TypeScript/pull/29317
function isNonEmptyObject(value) {
    return isObject(value) && !isFunction(value) && !isArray(value) && !isMap(value) && !isSet(value) && Object.keys(value).length > 0;
}
function isNonEmptySet(value) {
    return isSet(value) && value.size > 0;
}
// TODO: Use `not ''` when the `not` operator is available.
function isNonEmptyString(value) {
    return isString(value) && value.length > 0;
}
// TODO: Use `not ''` when the `not` operator is available.
function isNonEmptyStringAndNotWhitespace(value) {
    return isString(value) && !isEmptyStringOrWhitespace(value);
}
function isNonNegativeInteger(value) {
    return isInteger(value) && value >= 0;
}
function isNonNegativeNumber(value) {
    return isNumber(value) && value >= 0;
}
// eslint-disable-next-line @typescript-eslint/no-restricted-types
function isNull(value) {
    return value === null;
}
// eslint-disable-next-line @typescript-eslint/no-restricted-types
function isNullOrUndefined(value) {
    return isNull(value) || isUndefined(value);
}
function isNumber(value) {
    return typeof value === 'number' && !Number.isNaN(value);
}
function isNumericString(value) {
    return isString(value) && !isEmptyStringOrWhitespace(value) && value === value.trim() && !Number.isNaN(Number(value));
}
// eslint-disable-next-line @typescript-eslint/no-restricted-types
function isObject(value) {
    return !isNull(value) && (typeof value === 'object' || isFunction(value));
}
function isObservable(value) {
    if (!value) {
        return false;
    }
    // eslint-disable-next-line @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access
    if (Symbol.observable !== undefined && value === value[Symbol.observable]?.()) {
        return true;
    }
    // eslint-disable-next-line @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access
    if (value === value['@@observable']?.()) {
        return true;
    }
    return false;
}
function isOddInteger(value) {
    return isAbsoluteModule2(1)(value);
}
function isOneOf(values) {
    return (value) => values.includes(value);
}
function isPlainObject(value) {
    // From: https://github.com/sindresorhus/is-plain-obj/blob/main/index.js
    if (typeof value !== 'object' || value === null) {
        return false;
    }
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment
    const prototype = Object.getPrototypeOf(value);
    return (prototype === null || prototype === Object.prototype || Object.getPrototypeOf(prototype) === null) && !(Symbol.toStringTag in value) && !(Symbol.iterator in value);
}
function isPositiveInteger(value) {
    return isInteger(value) && value > 0;
}
function isPositiveNumber(value) {
    return isNumber(value) && value > 0;
}
function isPrimitive(value) {
    return isNull(value) || isPrimitiveTypeName(typeof value);
}
function isPromise(value) {
    return isNativePromise(value) || hasPromiseApi(value);
}
// `PropertyKey` is any value that can be used as an object key (string, number, or symbol). Note: NaN is technically `typeof 'number'` and thus fits TypeScript's `PropertyKey`, but we intentionally exclude it here because using NaN as a property key is almost always a mistake.
function isPropertyKey(value) {
    return isAny([isString, isNumber, isSymbol], value);
}
function isRegExp(value) {
    return getObjectType(value) === 'RegExp';
}
function isSafeInteger(value) {
    return Number.isSafeInteger(value);
}
function isSet(value) {
    return getObjectType(value) === 'Set';
}
function isSharedArrayBuffer(value) {
    return getObjectType(value) === 'SharedArrayBuffer';
}
function isString(value) {
    return typeof value === 'string';
}
function isSymbol(value) {
    return typeof value === 'symbol';
}
// Example: `is.truthy = (value: unknown): value is (not false | not 0 | not '' | not undefined | not null) => Boolean(value);`
// eslint-disable-next-line unicorn/prefer-native-coercion-functions
function isTruthy(value) {
    return Boolean(value);
}
function isTupleLike(value, guards) {
    if (isArray(guards) && isArray(value) && guards.length === value.length) {
        return guards.every((guard, index) => guard(value[index]));
    }
    return false;
}
function isTypedArray(value) {
    return isTypedArrayName(getObjectType(value));
}
function isUint16Array(value) {
    return getObjectType(value) === 'Uint16Array';
}
function isUint32Array(value) {
    return getObjectType(value) === 'Uint32Array';
}
function isUint8Array(value) {
    return getObjectType(value) === 'Uint8Array';
}
function isUint8ClampedArray(value) {
    return getObjectType(value) === 'Uint8ClampedArray';
}
function isUndefined(value) {
    return value === undefined;
}
function isUrlInstance(value) {
    return getObjectType(value) === 'URL';
}
// eslint-disable-next-line unicorn/prevent-abbreviations
function isUrlSearchParams(value) {
    return getObjectType(value) === 'URLSearchParams';
}
function isUrlString(value) {
    if (!isString(value)) {
        return false;
    }
    try {
        new URL(value); // eslint-disable-line no-new
        return true;
    }
    catch {
        return false;
    }
}
function isValidDate(value) {
    return isDate(value) && !isNan(Number(value));
}
function isValidLength(value) {
    return isSafeInteger(value) && value >= 0;
}
// eslint-disable-next-line @typescript-eslint/no-restricted-types
function isWeakMap(value) {
    return getObjectType(value) === 'WeakMap';
}
// eslint-disable-next-line @typescript-eslint/no-restricted-types
function isWeakRef(value) {
    return getObjectType(value) === 'WeakRef';
}
// eslint-disable-next-line @typescript-eslint/no-restricted-types
function isWeakSet(value) {
    return getObjectType(value) === 'WeakSet';
}
function isWhitespaceString(value) {
    return isString(value) && /^\s+$/v.test(value);
}
function predicateOnArray(method, predicate, values) {
    validatePredicate(predicate);
    if (values.length === 0) {
        throw new TypeError('Invalid number of values');
    }
    return method.call(values, predicate);
}
function typeErrorMessage(description, value) {
    return `Expected value which is \`${description}\`, received value of type \`${is(value)}\`.`;
}
function typeErrorMessageNot(description, value) {
    return `Expected value which is not \`${description}\`, received value of type \`${is(value)}\`.`;
}
function unique(values) {
    // eslint-disable-next-line unicorn/prefer-spread
    return Array.from(new Set(values));
}
// Made on first use: an Intl.ListFormat loads ICU's locale data, which costs every importer ~30 ms at startup.
let andFormatter;
let orFormatter;
function typeErrorMessageMultipleValues(expectedType, values) {
    andFormatter ??= new Intl.ListFormat('en', { style: 'long', type: 'conjunction' });
    orFormatter ??= new Intl.ListFormat('en', { style: 'long', type: 'disjunction' });
    const uniqueExpectedTypes = unique((isArray(expectedType) ? expectedType : [expectedType]).map(value => `\`${value}\``));
    const uniqueValueTypes = unique(values.map(value => `\`${is(value)}\``));
    return `Expected values which are ${orFormatter.format(uniqueExpectedTypes)}. Received values of type${uniqueValueTypes.length > 1 ? 's' : ''} ${andFormatter.format(uniqueValueTypes)}.`;
}
// Negative assertions are limited to types where the assertion rejects every TypeScript value assignable to the forbidden type. Structural object types such as `Map`, `Set`, `Date`, and `Array` are excluded because TypeScript accepts shape-compatible mocks while the runtime checks use object brands, so `Exclude` would narrow values that can pass the negative assertion.
function createAssertNot(predicate, description) {
    return (value, message) => {
        if (predicate(value)) {
            throw new TypeError(message ?? typeErrorMessageNot(description, value));
        }
    };
}
const assertNotUndefined = createAssertNot(isUndefined, 'undefined');
// eslint-disable-next-line @typescript-eslint/no-restricted-types
const assertNotNull = createAssertNot(isNull, 'null');
// eslint-disable-next-line @typescript-eslint/no-restricted-types
const assertNotNullOrUndefined 
// eslint-disable-next-line @typescript-eslint/no-restricted-types
= createAssertNot(isNullOrUndefined, 'null or undefined');
const assertNotString = createAssertNot(isString, 'string');
const assertNotBoolean = createAssertNot(isBoolean, 'boolean');
const assertNotSymbol = createAssertNot(isSymbol, 'symbol');
const assertNotBigint = createAssertNot(isBigint, 'bigint');
const assertNotPrimitive = createAssertNot(isPrimitive, 'primitive'); // eslint-disable-line @typescript-eslint/no-restricted-types
// We intentionally do not support `assert.not(is.undefined, value)`. TypeScript cannot derive safe complement types from arbitrary predicates, and many predicates here are refinements (for example, `is.number` rejects `NaN`). Explicit methods keep runtime checks and type narrowing aligned.
const notAssertions = {
    bigint: assertNotBigint,
    boolean: assertNotBoolean,
    null: assertNotNull,
    nullOrUndefined: assertNotNullOrUndefined,
    primitive: assertNotPrimitive,
    string: assertNotString,
    symbol: assertNotSymbol,
    undefined: assertNotUndefined,
};
const assert = {
    all: assertAll,
    any: assertAny,
    not: notAssertions,
    optional: assertOptional,
    array: assertArray,
    arrayBuffer: assertArrayBuffer,
    arrayLike: assertArrayLike,
    asyncFunction: assertAsyncFunction,
    asyncGenerator: assertAsyncGenerator,
    asyncGeneratorFunction: assertAsyncGeneratorFunction,
    asyncIterable: assertAsyncIterable,
    bigint: assertBigint,
    bigInt64Array: assertBigInt64Array,
    bigUint64Array: assertBigUint64Array,
    blob: assertBlob,
    boolean: assertBoolean,
    boundFunction: assertBoundFunction,
    buffer: assertBuffer,
    class: assertClass,
    dataView: assertDataView,
    date: assertDate,
    directInstanceOf: assertDirectInstanceOf,
    emptyArray: assertEmptyArray,
    emptyMap: assertEmptyMap,
    emptyObject: assertEmptyObject,
    emptySet: assertEmptySet,
    emptyString: assertEmptyString,
    emptyStringOrWhitespace: assertEmptyStringOrWhitespace,
    enumCase: assertEnumCase,
    error: assertError,
    evenInteger: assertEvenInteger,
    falsy: assertFalsy,
    finiteNumber: assertFiniteNumber,
    float32Array: assertFloat32Array,
    float64Array: assertFloat64Array,
    formData: assertFormData,
    function: assertFunction,
    generator: assertGenerator,
    generatorFunction: assertGeneratorFunction,
    htmlElement: assertHtmlElement,
    infinite: assertInfinite,
    inRange: assertInRange,
    int16Array: assertInt16Array,
    int32Array: assertInt32Array,
    int8Array: assertInt8Array,
    integer: assertInteger,
    iterable: assertIterable,
    map: assertMap,
    nan: assertNan,
    nativePromise: assertNativePromise,
    negativeInteger: assertNegativeInteger,
    negativeNumber: assertNegativeNumber,
    nodeStream: assertNodeStream,
    nonEmptyArray: assertNonEmptyArray,
    nonEmptyMap: assertNonEmptyMap,
    nonEmptyObject: assertNonEmptyObject,
    nonEmptySet: assertNonEmptySet,
    nonEmptyString: assertNonEmptyString,
    nonEmptyStringAndNotWhitespace: assertNonEmptyStringAndNotWhitespace,
    nonNegativeInteger: assertNonNegativeInteger,
    nonNegativeNumber: assertNonNegativeNumber,
    null: assertNull,
    nullOrUndefined: assertNullOrUndefined,
    number: assertNumber,
    numericString: assertNumericString,
    object: assertObject,
    observable: assertObservable,
    oddInteger: assertOddInteger,
    plainObject: assertPlainObject,
    positiveInteger: assertPositiveInteger,
    positiveNumber: assertPositiveNumber,
    primitive: assertPrimitive,
    promise: assertPromise,
    propertyKey: assertPropertyKey,
    regExp: assertRegExp,
    safeInteger: assertSafeInteger,
    set: assertSet,
    sharedArrayBuffer: assertSharedArrayBuffer,
    string: assertString,
    symbol: assertSymbol,
    truthy: assertTruthy,
    tupleLike: assertTupleLike,
    typedArray: assertTypedArray,
    uint16Array: assertUint16Array,
    uint32Array: assertUint32Array,
    uint8Array: assertUint8Array,
    uint8ClampedArray: assertUint8ClampedArray,
    undefined: assertUndefined,
    urlInstance: assertUrlInstance,
    urlSearchParams: assertUrlSearchParams,
    urlString: assertUrlString,
    validDate: assertValidDate,
    validLength: assertValidLength,
    weakMap: assertWeakMap,
    weakRef: assertWeakRef,
    weakSet: assertWeakSet,
    whitespaceString: assertWhitespaceString,
};
const methodTypeMap = {
    isArray: 'Array',
    isArrayBuffer: 'ArrayBuffer',
    isArrayLike: 'array-like',
    isAsyncFunction: 'AsyncFunction',
    isAsyncGenerator: 'AsyncGenerator',
    isAsyncGeneratorFunction: 'AsyncGeneratorFunction',
    isAsyncIterable: 'AsyncIterable',
    isBigint: 'bigint',
    isBigInt64Array: 'BigInt64Array',
    isBigUint64Array: 'BigUint64Array',
    isBlob: 'Blob',
    isBoolean: 'boolean',
    isBoundFunction: 'bound Function',
    isBuffer: 'Buffer',
    isClass: 'Class',
    isDataView: 'DataView',
    isDate: 'Date',
    isDirectInstanceOf: 'T',
    isEmptyArray: 'empty array',
    isEmptyMap: 'empty map',
    isEmptyObject: 'empty object',
    isEmptySet: 'empty set',
    isEmptyString: 'empty string',
    isEmptyStringOrWhitespace: 'empty string or whitespace',
    isEnumCase: 'EnumCase',
    isError: 'Error',
    isEvenInteger: 'even integer',
    isFalsy: 'falsy',
    isFiniteNumber: 'finite number',
    isFloat32Array: 'Float32Array',
    isFloat64Array: 'Float64Array',
    isFormData: 'FormData',
    isFunction: 'Function',
    isGenerator: 'Generator',
    isGeneratorFunction: 'GeneratorFunction',
    isHtmlElement: 'HTMLElement',
    isInfinite: 'infinite number',
    isInRange: 'in range',
    isInt16Array: 'Int16Array',
    isInt32Array: 'Int32Array',
    isInt8Array: 'Int8Array',
    isInteger: 'integer',
    isIterable: 'Iterable',
    isMap: 'Map',
    isNan: 'NaN',
    isNativePromise: 'native Promise',
    isNegativeInteger: 'negative integer',
    isNegativeNumber: 'negative number',
    isNodeStream: 'Node.js Stream',
    isNonEmptyArray: 'non-empty array',
    isNonEmptyMap: 'non-empty map',
    isNonEmptyObject: 'non-empty object',
    isNonEmptySet: 'non-empty set',
    isNonEmptyString: 'non-empty string',
    isNonEmptyStringAndNotWhitespace: 'non-empty string and not whitespace',
    isNonNegativeInteger: 'non-negative integer',
    isNonNegativeNumber: 'non-negative number',
    isNull: 'null',
    isNullOrUndefined: 'null or undefined',
    isNumber: 'number',
    isNumericString: 'string with a number',
    isObject: 'Object',
    isObservable: 'Observable',
    isOddInteger: 'odd integer',
    isPlainObject: 'plain object',
    isPositiveInteger: 'positive integer',
    isPositiveNumber: 'positive number',
    isPrimitive: 'primitive',
    isPromise: 'Promise',
    isPropertyKey: 'PropertyKey',
    isRegExp: 'RegExp',
    isSafeInteger: 'safe integer',
    isSet: 'Set',
    isSharedArrayBuffer: 'SharedArrayBuffer',
    isString: 'string',
    isSymbol: 'symbol',
    isTruthy: 'truthy',
    isTupleLike: 'tuple-like',
    isTypedArray: 'TypedArray',
    isUint16Array: 'Uint16Array',
    isUint32Array: 'Uint32Array',
    isUint8Array: 'Uint8Array',
    isUint8ClampedArray: 'Uint8ClampedArray',
    isUndefined: 'undefined',
    isUrlInstance: 'URL',
    isUrlSearchParams: 'URLSearchParams',
    isUrlString: 'string with a URL',
    isValidDate: 'valid Date',
    isValidLength: 'valid length',
    isWeakMap: 'WeakMap',
    isWeakRef: 'WeakRef',
    isWeakSet: 'WeakSet',
    isWhitespaceString: 'whitespace string',
};
const isMethodNames = keysOf(methodTypeMap);
function isIsMethodName(value) {
    return isMethodNames.includes(value);
}
function assertAll(predicate, ...values) {
    if (values.length === 0) {
        throw new TypeError('Invalid number of values');
    }
    if (!isAll(predicate, ...values)) {
        const predicateFunction = predicate;
        const expectedType = !Array.isArray(predicate) && isIsMethodName(predicateFunction.name) ? methodTypeMap[predicateFunction.name] : 'predicate returns truthy for all values';
        throw new TypeError(typeErrorMessageMultipleValues(expectedType, values));
    }
}
function assertAny(predicate, ...values) {
    if (values.length === 0) {
        throw new TypeError('Invalid number of values');
    }
    if (!isAny(predicate, ...values)) {
        const predicates = Array.isArray(predicate) ? predicate : [predicate];
        const expectedTypes = predicates.map(singlePredicate => isIsMethodName(singlePredicate.name) ? methodTypeMap[singlePredicate.name] : 'predicate returns truthy for any value');
        throw new TypeError(typeErrorMessageMultipleValues(expectedTypes, values));
    }
}
function assertOptional(value, assertion, message) {
    if (!isUndefined(value)) {
        assertion(value, message);
    }
}
function assertArray(value, assertion, message) {
    if (!isArray(value)) {
        throw new TypeError(message ?? typeErrorMessage('Array', value));
    }
    if (assertion) {
        for (const element of value) {
            // @ts-expect-error: "Assertions require every name in the call target to be declared with an explicit type annotation."
            assertion(element, message);
        }
    }
}
function assertArrayBuffer(value, message) {
    if (!isArrayBuffer(value)) {
        throw new TypeError(message ?? typeErrorMessage('ArrayBuffer', value));
    }
}
function assertArrayLike(value, message) {
    if (!isArrayLike(value)) {
        throw new TypeError(message ?? typeErrorMessage('array-like', value));
    }
}
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
function assertAsyncFunction(value, message) {
    if (!isAsyncFunction(value)) {
        throw new TypeError(message ?? typeErrorMessage('AsyncFunction', value));
    }
}
function assertAsyncGenerator(value, message) {
    if (!isAsyncGenerator(value)) {
        throw new TypeError(message ?? typeErrorMessage('AsyncGenerator', value));
    }
}
function assertAsyncGeneratorFunction(value, message) {
    if (!isAsyncGeneratorFunction(value)) {
        throw new TypeError(message ?? typeErrorMessage('AsyncGeneratorFunction', value));
    }
}
function assertAsyncIterable(value, message) {
    if (!isAsyncIterable(value)) {
        throw new TypeError(message ?? typeErrorMessage('AsyncIterable', value));
    }
}
function assertBigint(value, message) {
    if (!isBigint(value)) {
        throw new TypeError(message ?? typeErrorMessage('bigint', value));
    }
}
function assertBigInt64Array(value, message) {
    if (!isBigInt64Array(value)) {
        throw new TypeError(message ?? typeErrorMessage('BigInt64Array', value));
    }
}
function assertBigUint64Array(value, message) {
    if (!isBigUint64Array(value)) {
        throw new TypeError(message ?? typeErrorMessage('BigUint64Array', value));
    }
}
function assertBlob(value, message) {
    if (!isBlob(value)) {
        throw new TypeError(message ?? typeErrorMessage('Blob', value));
    }
}
function assertBoolean(value, message) {
    if (!isBoolean(value)) {
        throw new TypeError(message ?? typeErrorMessage('boolean', value));
    }
}
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
function assertBoundFunction(value, message) {
    if (!isBoundFunction(value)) {
        throw new TypeError(message ?? typeErrorMessage('bound Function', value));
    }
}
/**
Note: [Prefer using `Uint8Array` instead of `Buffer`.](https://sindresorhus.com/blog/goodbye-nodejs-buffer)
*/
function assertBuffer(value, message) {
    if (!isBuffer(value)) {
        throw new TypeError(message ?? typeErrorMessage('Buffer', value));
    }
}
function assertClass(value, message) {
    if (!isClass(value)) {
        throw new TypeError(message ?? typeErrorMessage('Class', value));
    }
}
function assertDataView(value, message) {
    if (!isDataView(value)) {
        throw new TypeError(message ?? typeErrorMessage('DataView', value));
    }
}
function assertDate(value, message) {
    if (!isDate(value)) {
        throw new TypeError(message ?? typeErrorMessage('Date', value));
    }
}
function assertDirectInstanceOf(instance, class_, message) {
    if (!isDirectInstanceOf(instance, class_)) {
        throw new TypeError(message ?? typeErrorMessage('T', instance));
    }
}
function assertEmptyArray(value, message) {
    if (!isEmptyArray(value)) {
        throw new TypeError(message ?? typeErrorMessage('empty array', value));
    }
}
function assertEmptyMap(value, message) {
    if (!isEmptyMap(value)) {
        throw new TypeError(message ?? typeErrorMessage('empty map', value));
    }
}
function assertEmptyObject(value, message) {
    if (!isEmptyObject(value)) {
        throw new TypeError(message ?? typeErrorMessage('empty object', value));
    }
}
function assertEmptySet(value, message) {
    if (!isEmptySet(value)) {
        throw new TypeError(message ?? typeErrorMessage('empty set', value));
    }
}
function assertEmptyString(value, message) {
    if (!isEmptyString(value)) {
        throw new TypeError(message ?? typeErrorMessage('empty string', value));
    }
}
function assertEmptyStringOrWhitespace(value, message) {
    if (!isEmptyStringOrWhitespace(value)) {
        throw new TypeError(message ?? typeErrorMessage('empty string or whitespace', value));
    }
}
function assertEnumCase(value, targetEnum, message) {
    if (!isEnumCase(value, targetEnum)) {
        throw new TypeError(message ?? typeErrorMessage('EnumCase', value));
    }
}
function assertError(value, message) {
    if (!isError(value)) {
        throw new TypeError(message ?? typeErrorMessage('Error', value));
    }
}
function assertEvenInteger(value, message) {
    if (!isEvenInteger(value)) {
        throw new TypeError(message ?? typeErrorMessage('even integer', value));
    }
}
function assertFalsy(value, message) {
    if (!isFalsy(value)) {
        throw new TypeError(message ?? typeErrorMessage('falsy', value));
    }
}
function assertFiniteNumber(value, message) {
    if (!isFiniteNumber(value)) {
        throw new TypeError(message ?? typeErrorMessage('finite number', value));
    }
}
function assertFloat32Array(value, message) {
    if (!isFloat32Array(value)) {
        throw new TypeError(message ?? typeErrorMessage('Float32Array', value));
    }
}
function assertFloat64Array(value, message) {
    if (!isFloat64Array(value)) {
        throw new TypeError(message ?? typeErrorMessage('Float64Array', value));
    }
}
function assertFormData(value, message) {
    if (!isFormData(value)) {
        throw new TypeError(message ?? typeErrorMessage('FormData', value));
    }
}
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
function assertFunction(value, message) {
    if (!isFunction(value)) {
        throw new TypeError(message ?? typeErrorMessage('Function', value));
    }
}
function assertGenerator(value, message) {
    if (!isGenerator(value)) {
        throw new TypeError(message ?? typeErrorMessage('Generator', value));
    }
}
function assertGeneratorFunction(value, message) {
    if (!isGeneratorFunction(value)) {
        throw new TypeError(message ?? typeErrorMessage('GeneratorFunction', value));
    }
}
function assertHtmlElement(value, message) {
    if (!isHtmlElement(value)) {
        throw new TypeError(message ?? typeErrorMessage('HTMLElement', value));
    }
}
function assertInfinite(value, message) {
    if (!isInfinite(value)) {
        throw new TypeError(message ?? typeErrorMessage('infinite number', value));
    }
}
function assertInRange(value, range, message) {
    if (!isInRange(value, range)) {
        throw new TypeError(message ?? typeErrorMessage('in range', value));
    }
}
function assertInt16Array(value, message) {
    if (!isInt16Array(value)) {
        throw new TypeError(message ?? typeErrorMessage('Int16Array', value));
    }
}
function assertInt32Array(value, message) {
    if (!isInt32Array(value)) {
        throw new TypeError(message ?? typeErrorMessage('Int32Array', value));
    }
}
function assertInt8Array(value, message) {
    if (!isInt8Array(value)) {
        throw new TypeError(message ?? typeErrorMessage('Int8Array', value));
    }
}
function assertInteger(value, message) {
    if (!isInteger(value)) {
        throw new TypeError(message ?? typeErrorMessage('integer', value));
    }
}
function assertIterable(value, message) {
    if (!isIterable(value)) {
        throw new TypeError(message ?? typeErrorMessage('Iterable', value));
    }
}
function assertMap(value, message) {
    if (!isMap(value)) {
        throw new TypeError(message ?? typeErrorMessage('Map', value));
    }
}
function assertNan(value, message) {
    if (!isNan(value)) {
        throw new TypeError(message ?? typeErrorMessage('NaN', value));
    }
}
function assertNativePromise(value, message) {
    if (!isNativePromise(value)) {
        throw new TypeError(message ?? typeErrorMessage('native Promise', value));
    }
}
function assertNegativeInteger(value, message) {
    if (!isNegativeInteger(value)) {
        throw new TypeError(message ?? typeErrorMessage('negative integer', value));
    }
}
function assertNegativeNumber(value, message) {
    if (!isNegativeNumber(value)) {
        throw new TypeError(message ?? typeErrorMessage('negative number', value));
    }
}
function assertNodeStream(value, message) {
    if (!isNodeStream(value)) {
        throw new TypeError(message ?? typeErrorMessage('Node.js Stream', value));
    }
}
function assertNonEmptyArray(value, message) {
    if (!isNonEmptyArray(value)) {
        throw new TypeError(message ?? typeErrorMessage('non-empty array', value));
    }
}
function assertNonEmptyMap(value, message) {
    if (!isNonEmptyMap(value)) {
        throw new TypeError(message ?? typeErrorMessage('non-empty map', value));
    }
}
function assertNonEmptyObject(value, message) {
    if (!isNonEmptyObject(value)) {
        throw new TypeError(message ?? typeErrorMessage('non-empty object', value));
    }
}
function assertNonEmptySet(value, message) {
    if (!isNonEmptySet(value)) {
        throw new TypeError(message ?? typeErrorMessage('non-empty set', value));
    }
}
function assertNonEmptyString(value, message) {
    if (!isNonEmptyString(value)) {
        throw new TypeError(message ?? typeErrorMessage('non-empty string', value));
    }
}
function assertNonEmptyStringAndNotWhitespace(value, message) {
    if (!isNonEmptyStringAndNotWhitespace(value)) {
        throw new TypeError(message ?? typeErrorMessage('non-empty string and not whitespace', value));
    }
}
function assertNonNegativeInteger(value, message) {
    if (!isNonNegativeInteger(value)) {
        throw new TypeError(message ?? typeErrorMessage('non-negative integer', value));
    }
}
function assertNonNegativeNumber(value, message) {
    if (!isNonNegativeNumber(value)) {
        throw new TypeError(message ?? typeErrorMessage('non-negative number', value));
    }
}
// eslint-disable-next-line @typescript-eslint/no-restricted-types
function assertNull(value, message) {
    if (!isNull(value)) {
        throw new TypeError(message ?? typeErrorMessage('null', value));
    }
}
// eslint-disable-next-line @typescript-eslint/no-restricted-types
function assertNullOrUndefined(value, message) {
    if (!isNullOrUndefined(value)) {
        throw new TypeError(message ?? typeErrorMessage('null or undefined', value));
    }
}
function assertNumber(value, message) {
    if (!isNumber(value)) {
        throw new TypeError(message ?? typeErrorMessage('number', value));
    }
}
function assertNumericString(value, message) {
    if (!isNumericString(value)) {
        throw new TypeError(message ?? typeErrorMessage('string with a number', value));
    }
}
// eslint-disable-next-line @typescript-eslint/no-restricted-types
function assertObject(value, message) {
    if (!isObject(value)) {
        throw new TypeError(message ?? typeErrorMessage('Object', value));
    }
}
function assertObservable(value, message) {
    if (!isObservable(value)) {
        throw new TypeError(message ?? typeErrorMessage('Observable', value));
    }
}
function assertOddInteger(value, message) {
    if (!isOddInteger(value)) {
        throw new TypeError(message ?? typeErrorMessage('odd integer', value));
    }
}
function assertPlainObject(value, message) {
    if (!isPlainObject(value)) {
        throw new TypeError(message ?? typeErrorMessage('plain object', value));
    }
}
function assertPositiveInteger(value, message) {
    if (!isPositiveInteger(value)) {
        throw new TypeError(message ?? typeErrorMessage('positive integer', value));
    }
}
function assertPositiveNumber(value, message) {
    if (!isPositiveNumber(value)) {
        throw new TypeError(message ?? typeErrorMessage('positive number', value));
    }
}
function assertPrimitive(value, message) {
    if (!isPrimitive(value)) {
        throw new TypeError(message ?? typeErrorMessage('primitive', value));
    }
}
function assertPromise(value, message) {
    if (!isPromise(value)) {
        throw new TypeError(message ?? typeErrorMessage('Promise', value));
    }
}
function assertPropertyKey(value, message) {
    if (!isPropertyKey(value)) {
        throw new TypeError(message ?? typeErrorMessage('PropertyKey', value));
    }
}
function assertRegExp(value, message) {
    if (!isRegExp(value)) {
        throw new TypeError(message ?? typeErrorMessage('RegExp', value));
    }
}
function assertSafeInteger(value, message) {
    if (!isSafeInteger(value)) {
        throw new TypeError(message ?? typeErrorMessage('safe integer', value));
    }
}
function assertSet(value, message) {
    if (!isSet(value)) {
        throw new TypeError(message ?? typeErrorMessage('Set', value));
    }
}
function assertSharedArrayBuffer(value, message) {
    if (!isSharedArrayBuffer(value)) {
        throw new TypeError(message ?? typeErrorMessage('SharedArrayBuffer', value));
    }
}
function assertString(value, message) {
    if (!isString(value)) {
        throw new TypeError(message ?? typeErrorMessage('string', value));
    }
}
function assertSymbol(value, message) {
    if (!isSymbol(value)) {
        throw new TypeError(message ?? typeErrorMessage('symbol', value));
    }
}
function assertTruthy(value, message) {
    if (!isTruthy(value)) {
        throw new TypeError(message ?? typeErrorMessage('truthy', value));
    }
}
function assertTupleLike(value, guards, message) {
    if (!isTupleLike(value, guards)) {
        throw new TypeError(message ?? typeErrorMessage('tuple-like', value));
    }
}
function assertTypedArray(value, message) {
    if (!isTypedArray(value)) {
        throw new TypeError(message ?? typeErrorMessage('TypedArray', value));
    }
}
function assertUint16Array(value, message) {
    if (!isUint16Array(value)) {
        throw new TypeError(message ?? typeErrorMessage('Uint16Array', value));
    }
}
function assertUint32Array(value, message) {
    if (!isUint32Array(value)) {
        throw new TypeError(message ?? typeErrorMessage('Uint32Array', value));
    }
}
function assertUint8Array(value, message) {
    if (!isUint8Array(value)) {
        throw new TypeError(message ?? typeErrorMessage('Uint8Array', value));
    }
}
function assertUint8ClampedArray(value, message) {
    if (!isUint8ClampedArray(value)) {
        throw new TypeError(message ?? typeErrorMessage('Uint8ClampedArray', value));
    }
}
function assertUndefined(value, message) {
    if (!isUndefined(value)) {
        throw new TypeError(message ?? typeErrorMessage('undefined', value));
    }
}
function assertUrlInstance(value, message) {
    if (!isUrlInstance(value)) {
        throw new TypeError(message ?? typeErrorMessage('URL', value));
    }
}
// eslint-disable-next-line unicorn/prevent-abbreviations
function assertUrlSearchParams(value, message) {
    if (!isUrlSearchParams(value)) {
        throw new TypeError(message ?? typeErrorMessage('URLSearchParams', value));
    }
}
function assertUrlString(value, message) {
    if (!isUrlString(value)) {
        throw new TypeError(message ?? typeErrorMessage('string with a URL', value));
    }
}
function assertValidDate(value, message) {
    if (!isValidDate(value)) {
        throw new TypeError(message ?? typeErrorMessage('valid Date', value));
    }
}
function assertValidLength(value, message) {
    if (!isValidLength(value)) {
        throw new TypeError(message ?? typeErrorMessage('valid length', value));
    }
}
// eslint-disable-next-line @typescript-eslint/no-restricted-types
function assertWeakMap(value, message) {
    if (!isWeakMap(value)) {
        throw new TypeError(message ?? typeErrorMessage('WeakMap', value));
    }
}
// eslint-disable-next-line @typescript-eslint/no-restricted-types
function assertWeakRef(value, message) {
    if (!isWeakRef(value)) {
        throw new TypeError(message ?? typeErrorMessage('WeakRef', value));
    }
}
// eslint-disable-next-line @typescript-eslint/no-restricted-types
function assertWeakSet(value, message) {
    if (!isWeakSet(value)) {
        throw new TypeError(message ?? typeErrorMessage('WeakSet', value));
    }
}
function assertWhitespaceString(value, message) {
    if (!isWhitespaceString(value)) {
        throw new TypeError(message ?? typeErrorMessage('whitespace string', value));
    }
}
/* harmony default export */ const distribution = (is);

// EXTERNAL MODULE: external "node:events"
var external_node_events_ = __nccwpck_require__(8474);
;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/utils/strip-url-auth.js
/*
Returns the URL as a string with `username` and `password` stripped.
*/
function stripUrlAuth(url) {
    const sanitized = new URL(url);
    sanitized.username = '';
    sanitized.password = '';
    return sanitized.href;
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/errors.js


const normalizeError = (error) => {
    if (error instanceof globalThis.Error) {
        return error;
    }
    if (distribution.object(error)) {
        const errorLike = error;
        const message = typeof errorLike.message === 'string' ? errorLike.message : 'Non-error object thrown';
        const normalizedError = new globalThis.Error(message, { cause: error });
        if (typeof errorLike.stack === 'string') {
            normalizedError.stack = errorLike.stack;
        }
        if (typeof errorLike.code === 'string') {
            normalizedError.code = errorLike.code;
        }
        if (typeof errorLike.input === 'string') {
            normalizedError.input = errorLike.input;
        }
        return normalizedError;
    }
    return new globalThis.Error(String(error));
};
// A hacky check to prevent circular references.
function isRequest(x) {
    return distribution.object(x) && '_onResponse' in x;
}
/**
An error to be thrown when a request fails.
Contains a `code` property with error class code, like `ECONNREFUSED`.
*/
class RequestError extends Error {
    name = 'RequestError';
    code = 'ERR_GOT_REQUEST_ERROR';
    input;
    stack;
    response;
    request;
    timings;
    constructor(message, error, self, response) {
        super(message, { cause: error });
        // The stack is trimmed here so that the frames inside `got` do not appear in the trace the
        // caller sees. `unicorn/no-useless-error-capture-stack-trace` assumes the call is redundant
        // for a subclass of `Error`, which is not the case here.
        // eslint-disable-next-line unicorn/no-useless-error-capture-stack-trace
        Error.captureStackTrace(this, this.constructor);
        // The cause is kept as thrown, so it can be any value. Only an object can carry details.
        const errorLike = distribution.object(error) ? error : undefined;
        if (errorLike?.code) {
            this.code = errorLike.code;
        }
        this.input = errorLike?.input;
        if (isRequest(self)) {
            Object.defineProperties(this, {
                request: {
                    enumerable: false,
                    value: self,
                },
                response: {
                    enumerable: false,
                    value: response ?? self.response,
                },
            });
            this.options = self.options;
        }
        else {
            this.options = self;
        }
        this.timings = this.request?.timings;
        // Recover the original stacktrace
        if (distribution.string(errorLike?.stack) && distribution.string(this.stack)) {
            // Both stacks start with a `name: message` header, and both headers are rebuilt below
            // by dropping everything before this point. A multi-line message spans several lines,
            // so the whole message is the boundary. A message that is empty or absent matches at
            // zero and would leave the header in the frames, so the first newline is the boundary.
            // A message that is not in its stack, such as one changed after the stack was read, has no
            // boundary at all.
            const frameStart = (stack, message) => {
                if (!message) {
                    return stack.indexOf('\n');
                }
                const messageStart = stack.indexOf(message);
                return messageStart === -1 ? -1 : messageStart + message.length;
            };
            const headerEnd = frameStart(this.stack, this.message);
            const thisStackTrace = (headerEnd === -1 ? '' : this.stack.slice(headerEnd)).split('\n').toReversed();
            const causeStart = frameStart(errorLike.stack, errorLike.message);
            const originalStack = distribution.string(errorLike.message) && causeStart !== -1
                ? errorLike.stack.slice(causeStart)
                : `\n${errorLike.stack}`;
            const errorStackTrace = originalStack.split('\n').toReversed();
            // Remove duplicated traces
            while (errorStackTrace.length > 0 && errorStackTrace[0] === thisStackTrace[0]) {
                thisStackTrace.shift();
            }
            const frames = `${thisStackTrace.toReversed().join('\n')}${errorStackTrace.toReversed().join('\n')}`;
            let assignedStack;
            // A subclass sets `name` only after `super()` returns, so building the header here
            // would label every subclass as a plain `RequestError`. Read the names on access
            // instead, while still honouring an assigned stack the way `Error` does.
            Object.defineProperty(this, 'stack', {
                configurable: true,
                enumerable: false,
                get: () => assignedStack ?? `${this.name}: ${this.message}${frames}`,
                set(value) {
                    assignedStack = distribution.string(value) ? value : undefined;
                },
            });
        }
    }
}
/**
An error to be thrown when the server redirects you more than ten times.
Includes a `response` property.
*/
class MaxRedirectsError extends RequestError {
    name = 'MaxRedirectsError';
    code = 'ERR_TOO_MANY_REDIRECTS';
    constructor(request) {
        super(`Redirected ${request.options.maxRedirects} times. Aborting.`, {}, request);
    }
}
/**
An error to be thrown when the server response code is not 2xx nor 3xx if `options.followRedirect` is `true`, but always except for 304.
Includes a `response` property.
*/
// eslint-disable-next-line @typescript-eslint/naming-convention
class HTTPError extends RequestError {
    name = 'HTTPError';
    code = 'ERR_NON_2XX_3XX_RESPONSE';
    constructor(response) {
        super(`Request failed with status code ${response.statusCode} (${response.statusMessage}): ${response.request.options.method} ${stripUrlAuth(response.request.options.url)}`, {}, response.request, response);
    }
}
/**
An error to be thrown when a cache method fails.
For example, if the database goes down or there's a filesystem error.
*/
class CacheError extends RequestError {
    name = 'CacheError';
    code = 'ERR_CACHE_ACCESS';
    constructor(error, request) {
        super(error.message, error, request);
    }
}
/**
An error to be thrown when the request body is a stream and an error occurs while reading from that stream.
*/
class UploadError extends RequestError {
    name = 'UploadError';
    code = 'ERR_UPLOAD';
    constructor(error, request) {
        super(error.message, error, request);
    }
}
/**
An error to be thrown when the request is aborted due to a timeout.
Includes an `event` and `timings` property.
*/
class TimeoutError extends RequestError {
    name = 'TimeoutError';
    code = 'ETIMEDOUT';
    timings;
    event;
    constructor(error, timings, request) {
        super(error.message, error, request);
        // `AbortSignal.timeout()` reports a `DOMException`, which names no phase.
        this.event = error.event ?? 'request';
        this.timings = timings;
    }
}
/**
An error to be thrown when reading from response stream fails.
*/
class ReadError extends RequestError {
    name = 'ReadError';
    code = 'ERR_READING_RESPONSE_STREAM';
    constructor(error, request) {
        super(error.message, error, request);
        if (error.code === 'ECONNRESET' || error.code === 'ERR_HTTP_CONTENT_LENGTH_MISMATCH') {
            this.code = error.code;
        }
    }
}
/**
An error which always triggers a new retry when thrown.
*/
class RetryError extends RequestError {
    name = 'RetryError';
    code = 'ERR_RETRYING';
    constructor(request) {
        super('Retrying', {}, request);
    }
}
/**
An error to be thrown when the request is aborted by AbortController.
*/
class AbortError extends RequestError {
    name = 'AbortError';
    code = 'ERR_ABORTED';
    constructor(request) {
        super('This operation was aborted.', {}, request);
        if (request.options?.signal?.aborted) {
            this.cause = request.options.signal.reason;
        }
    }
}

;// CONCATENATED MODULE: external "node:process"
const external_node_process_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:process");
// EXTERNAL MODULE: external "node:buffer"
var external_node_buffer_ = __nccwpck_require__(4573);
// EXTERNAL MODULE: external "node:stream"
var external_node_stream_ = __nccwpck_require__(7075);
// EXTERNAL MODULE: external "node:http2"
var external_node_http2_ = __nccwpck_require__(2467);
;// CONCATENATED MODULE: ./node_modules/byte-counter/utilities.js
const textEncoder = new TextEncoder();

function byteLength(data) {
	if (typeof data === 'string') {
		return textEncoder.encode(data).byteLength;
	}

	if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) {
		return data.byteLength;
	}

	return 0;
}

;// CONCATENATED MODULE: ./node_modules/chunk-data/index.js
const toUint8Array = data => (data instanceof Uint8Array
	? data
	: new Uint8Array(data.buffer, data.byteOffset, data.byteLength));

function * chunk(data, chunkSize) {
	if (!ArrayBuffer.isView(data)) {
		throw new TypeError('Expected data to be ArrayBufferView');
	}

	if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
		throw new TypeError('Expected chunkSize to be a positive integer');
	}

	const uint8Array = toUint8Array(data);

	for (let offset = 0; offset < uint8Array.length; offset += chunkSize) {
		yield uint8Array.subarray(offset, offset + chunkSize);
	}
}

function * chunkFrom(iterable, chunkSize) {
	if (typeof iterable?.[Symbol.iterator] !== 'function' || typeof iterable === 'string') {
		throw new TypeError('Expected iterable to be an Iterable<ArrayBufferView>');
	}

	if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
		throw new TypeError('Expected chunkSize to be a positive integer');
	}

	let carryBuffer;
	let carryLength = 0;

	for (const part of iterable) {
		if (!ArrayBuffer.isView(part)) {
			throw new TypeError('Expected iterable chunks to be Uint8Array or ArrayBufferView');
		}

		const buffer = toUint8Array(part);

		// Skip empty buffers
		if (buffer.length === 0) {
			continue;
		}

		let offset = 0;

		// Fill carry buffer to a full chunk if present
		if (carryLength > 0) {
			const needed = chunkSize - carryLength;
			if (buffer.length >= needed) {
				// Complete the chunk: merge carry + needed bytes from buffer
				const out = new Uint8Array(chunkSize);
				out.set(carryBuffer.subarray(0, carryLength), 0);
				out.set(buffer.subarray(0, needed), carryLength);
				yield out;
				carryLength = 0;
				offset = needed;
			} else {
				// Accumulate into fixed carry buffer (avoids O(n²) from repeated reallocations)
				// Safe: buffer.length < needed implies carryLength + buffer.length < chunkSize
				carryBuffer.set(buffer, carryLength);
				carryLength += buffer.length;
				continue;
			}
		}

		// Emit direct slices from current buffer
		for (; offset + chunkSize <= buffer.length; offset += chunkSize) {
			yield buffer.subarray(offset, offset + chunkSize);
		}

		// Save remainder in carry buffer
		if (offset < buffer.length) {
			carryBuffer ||= new Uint8Array(chunkSize);

			const remainder = buffer.length - offset;
			carryBuffer.set(buffer.subarray(offset), 0);
			carryLength = remainder;
		}
	}

	if (carryLength > 0) {
		yield carryBuffer.subarray(0, carryLength);
	}
}

async function * chunkFromAsync(iterable, chunkSize) {
	if (typeof iterable?.[Symbol.asyncIterator] !== 'function' && typeof iterable?.[Symbol.iterator] !== 'function') {
		throw new TypeError('Expected iterable to be an async iterable or iterable');
	}

	if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
		throw new TypeError('Expected chunkSize to be a positive integer');
	}

	let carryBuffer;
	let carryLength = 0;

	for await (const part of iterable) {
		if (!ArrayBuffer.isView(part)) {
			throw new TypeError('Expected iterable chunks to be Uint8Array or ArrayBufferView');
		}

		const buffer = toUint8Array(part);

		// Skip empty buffers
		if (buffer.length === 0) {
			continue;
		}

		let offset = 0;

		// Fill carry buffer to a full chunk if present
		if (carryLength > 0) {
			const needed = chunkSize - carryLength;
			if (buffer.length >= needed) {
				// Complete the chunk: merge carry + needed bytes from buffer
				const out = new Uint8Array(chunkSize);
				out.set(carryBuffer.subarray(0, carryLength), 0);
				out.set(buffer.subarray(0, needed), carryLength);
				yield out;
				carryLength = 0;
				offset = needed;
			} else {
				// Accumulate into fixed carry buffer (avoids O(n²) from repeated reallocations)
				// Safe: buffer.length < needed implies carryLength + buffer.length < chunkSize
				carryBuffer.set(buffer, carryLength);
				carryLength += buffer.length;
				continue;
			}
		}

		// Emit direct slices from current buffer
		for (; offset + chunkSize <= buffer.length; offset += chunkSize) {
			yield buffer.subarray(offset, offset + chunkSize);
		}

		// Save remainder in carry buffer
		if (offset < buffer.length) {
			carryBuffer ||= new Uint8Array(chunkSize);

			const remainder = buffer.length - offset;
			carryBuffer.set(buffer.subarray(offset), 0);
			carryLength = remainder;
		}
	}

	if (carryLength > 0) {
		yield carryBuffer.subarray(0, carryLength);
	}
}

;// CONCATENATED MODULE: ./node_modules/uint8array-extras/index.js
const objectToString = Object.prototype.toString;
const uint8ArrayStringified = '[object Uint8Array]';
const arrayBufferStringified = '[object ArrayBuffer]';

function isType(value, typeConstructor, typeStringified) {
	if (!value) {
		return false;
	}

	if (value.constructor === typeConstructor) {
		return true;
	}

	return objectToString.call(value) === typeStringified;
}

function uint8array_extras_isUint8Array(value) {
	return isType(value, Uint8Array, uint8ArrayStringified);
}

function uint8array_extras_isArrayBuffer(value) {
	return isType(value, ArrayBuffer, arrayBufferStringified);
}

function isUint8ArrayOrArrayBuffer(value) {
	return uint8array_extras_isUint8Array(value) || uint8array_extras_isArrayBuffer(value);
}

function toUint8ArrayIfArrayBuffer(value) {
	return uint8array_extras_isArrayBuffer(value) ? new Uint8Array(value) : value;
}

function uint8array_extras_assertUint8Array(value) {
	if (!uint8array_extras_isUint8Array(value)) {
		throw new TypeError(`Expected \`Uint8Array\`, got \`${typeof value}\``);
	}
}

function assertUint8ArrayOrArrayBuffer(value) {
	if (!isUint8ArrayOrArrayBuffer(value)) {
		throw new TypeError(`Expected \`Uint8Array\` or \`ArrayBuffer\`, got \`${typeof value}\``);
	}
}

function uint8array_extras_toUint8Array(value) {
	if (value instanceof ArrayBuffer) {
		return new Uint8Array(value);
	}

	if (ArrayBuffer.isView(value)) {
		return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
	}

	throw new TypeError(`Unsupported value, got \`${typeof value}\`.`);
}

function concatUint8Arrays(arrays, totalLength) {
	if (arrays.length === 0) {
		return new Uint8Array(0);
	}

	totalLength ??= arrays.reduce((accumulator, currentValue) => accumulator + currentValue.byteLength, 0);

	const returnValue = new Uint8Array(totalLength);

	let offset = 0;
	for (let array of arrays) {
		assertUint8ArrayOrArrayBuffer(array);
		array = toUint8ArrayIfArrayBuffer(array);
		returnValue.set(array, offset);
		offset += array.length;
	}

	return returnValue;
}

function areUint8ArraysEqual(a, b) {
	assertUint8ArrayOrArrayBuffer(a);
	assertUint8ArrayOrArrayBuffer(b);
	a = toUint8ArrayIfArrayBuffer(a);
	b = toUint8ArrayIfArrayBuffer(b);

	if (a === b) {
		return true;
	}

	if (a.length !== b.length) {
		return false;
	}

	// eslint-disable-next-line unicorn/no-for-loop
	for (let index = 0; index < a.length; index++) {
		if (a[index] !== b[index]) {
			return false;
		}
	}

	return true;
}

function compareUint8Arrays(a, b) {
	assertUint8ArrayOrArrayBuffer(a);
	assertUint8ArrayOrArrayBuffer(b);
	a = toUint8ArrayIfArrayBuffer(a);
	b = toUint8ArrayIfArrayBuffer(b);

	const length = Math.min(a.length, b.length);

	for (let index = 0; index < length; index++) {
		const diff = a[index] - b[index];
		if (diff !== 0) {
			return Math.sign(diff);
		}
	}

	// At this point, all the compared elements are equal.
	// The shorter array should come first if the arrays are of different lengths.
	return Math.sign(a.length - b.length);
}

const cachedDecoders = {
	utf8: new globalThis.TextDecoder('utf8'),
};

function uint8ArrayToString(array, encoding = 'utf8') {
	assertUint8ArrayOrArrayBuffer(array);
	cachedDecoders[encoding] ??= new globalThis.TextDecoder(encoding);
	return cachedDecoders[encoding].decode(array);
}

function uint8array_extras_assertString(value) {
	if (typeof value !== 'string') {
		throw new TypeError(`Expected \`string\`, got \`${typeof value}\``);
	}
}

const cachedEncoder = new globalThis.TextEncoder();

function stringToUint8Array(string) {
	uint8array_extras_assertString(string);
	return cachedEncoder.encode(string);
}

function base64ToBase64Url(base64) {
	return base64.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function base64UrlToBase64(base64url) {
	const base64 = base64url.replaceAll('-', '+').replaceAll('_', '/');
	const padding = (4 - (base64.length % 4)) % 4;
	return base64 + '='.repeat(padding);
}

// Reference: https://phuoc.ng/collection/this-vs-that/concat-vs-push/
// Important: Keep this value divisible by 3 so intermediate chunks produce no Base64 padding.
const MAX_BLOCK_SIZE = 65_535;

function uint8ArrayToBase64(array, {urlSafe = false} = {}) {
	assertUint8ArrayOrArrayBuffer(array);
	array = toUint8ArrayIfArrayBuffer(array);

	let base64 = '';

	for (let index = 0; index < array.length; index += MAX_BLOCK_SIZE) {
		const chunk = array.subarray(index, index + MAX_BLOCK_SIZE);
		// Required as `btoa` and `atob` don't properly support Unicode: https://developer.mozilla.org/en-US/docs/Glossary/Base64#the_unicode_problem
		base64 += globalThis.btoa(String.fromCodePoint.apply(undefined, chunk));
	}

	return urlSafe ? base64ToBase64Url(base64) : base64;
}

function base64ToUint8Array(base64String) {
	uint8array_extras_assertString(base64String);
	return Uint8Array.from(globalThis.atob(base64UrlToBase64(base64String)), x => x.codePointAt(0));
}

function stringToBase64(string, {urlSafe = false} = {}) {
	uint8array_extras_assertString(string);
	return uint8ArrayToBase64(stringToUint8Array(string), {urlSafe});
}

function base64ToString(base64String) {
	uint8array_extras_assertString(base64String);
	return uint8ArrayToString(base64ToUint8Array(base64String));
}

const byteToHexLookupTable = Array.from({length: 256}, (_, index) => index.toString(16).padStart(2, '0'));

function uint8ArrayToHex(array) {
	assertUint8ArrayOrArrayBuffer(array);
	array = toUint8ArrayIfArrayBuffer(array);

	// Concatenating a string is faster than using an array.
	let hexString = '';

	// eslint-disable-next-line unicorn/no-for-loop -- Max performance is critical.
	for (let index = 0; index < array.length; index++) {
		hexString += byteToHexLookupTable[array[index]];
	}

	return hexString;
}

const hexToDecimalLookupTable = {
	0: 0,
	1: 1,
	2: 2,
	3: 3,
	4: 4,
	5: 5,
	6: 6,
	7: 7,
	8: 8,
	9: 9,
	a: 10,
	b: 11,
	c: 12,
	d: 13,
	e: 14,
	f: 15,
	A: 10,
	B: 11,
	C: 12,
	D: 13,
	E: 14,
	F: 15,
};

function hexToUint8Array(hexString) {
	uint8array_extras_assertString(hexString);

	if (hexString.length % 2 !== 0) {
		throw new Error('Invalid Hex string length.');
	}

	const resultLength = hexString.length / 2;
	const bytes = new Uint8Array(resultLength);

	for (let index = 0; index < resultLength; index++) {
		const highNibble = hexToDecimalLookupTable[hexString[index * 2]];
		const lowNibble = hexToDecimalLookupTable[hexString[(index * 2) + 1]];

		if (highNibble === undefined || lowNibble === undefined) {
			throw new Error(`Invalid Hex character encountered at position ${index * 2}`);
		}

		bytes[index] = (highNibble << 4) | lowNibble; // eslint-disable-line no-bitwise
	}

	return bytes;
}

/**
@param {DataView} view
@returns {number}
*/
function getUintBE(view) {
	const {byteLength} = view;

	if (byteLength === 6) {
		return (view.getUint16(0) * (2 ** 32)) + view.getUint32(2);
	}

	if (byteLength === 5) {
		return (view.getUint8(0) * (2 ** 32)) + view.getUint32(1);
	}

	if (byteLength === 4) {
		return view.getUint32(0);
	}

	if (byteLength === 3) {
		return (view.getUint8(0) * (2 ** 16)) + view.getUint16(1);
	}

	if (byteLength === 2) {
		return view.getUint16(0);
	}

	if (byteLength === 1) {
		return view.getUint8(0);
	}
}

/**
@param {Uint8Array | ArrayBuffer} array
@param {Uint8Array | ArrayBuffer} value
@returns {number}
*/
function indexOf(array, value) {
	array = toUint8ArrayIfArrayBuffer(array);
	value = toUint8ArrayIfArrayBuffer(value);

	const arrayLength = array.length;
	const valueLength = value.length;

	if (valueLength === 0) {
		return -1;
	}

	if (valueLength > arrayLength) {
		return -1;
	}

	const validOffsetLength = arrayLength - valueLength;

	for (let index = 0; index <= validOffsetLength; index++) {
		let isMatch = true;
		for (let index2 = 0; index2 < valueLength; index2++) {
			if (array[index + index2] !== value[index2]) {
				isMatch = false;
				break;
			}
		}

		if (isMatch) {
			return index;
		}
	}

	return -1;
}

/**
@param {Uint8Array | ArrayBuffer} array
@param {Uint8Array | ArrayBuffer} value
@returns {boolean}
*/
function includes(array, value) {
	return indexOf(array, value) !== -1;
}

// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __nccwpck_require__(7598);
// EXTERNAL MODULE: external "node:url"
var external_node_url_ = __nccwpck_require__(3136);
;// CONCATENATED MODULE: ./node_modules/is-stream/index.js
function isStream(stream, {checkOpen = true} = {}) {
	return stream !== null
		&& typeof stream === 'object'
		&& (stream.writable || stream.readable || !checkOpen || (stream.writable === undefined && stream.readable === undefined))
		&& typeof stream.pipe === 'function';
}

function isWritableStream(stream, {checkOpen = true} = {}) {
	return isStream(stream, {checkOpen})
		&& (stream.writable || !checkOpen)
		&& typeof stream.write === 'function'
		&& typeof stream.end === 'function'
		&& typeof stream.writable === 'boolean'
		&& typeof stream.writableObjectMode === 'boolean'
		&& typeof stream.destroy === 'function'
		&& typeof stream.destroyed === 'boolean';
}

function isReadableStream(stream, {checkOpen = true} = {}) {
	return isStream(stream, {checkOpen})
		&& (stream.readable || !checkOpen)
		&& typeof stream.read === 'function'
		&& typeof stream.readable === 'boolean'
		&& typeof stream.readableObjectMode === 'boolean'
		&& typeof stream.destroy === 'function'
		&& typeof stream.destroyed === 'boolean';
}

function isDuplexStream(stream, options) {
	return isWritableStream(stream, options)
		&& isReadableStream(stream, options);
}

function isTransformStream(stream, options) {
	return isDuplexStream(stream, options)
		&& typeof stream._transform === 'function';
}

;// CONCATENATED MODULE: ./node_modules/@sec-ant/readable-stream/dist/ponyfill/asyncIterator.js
const a = Object.getPrototypeOf(
  Object.getPrototypeOf(
    /* istanbul ignore next */
    async function* () {
    }
  ).prototype
);
class c {
  #t;
  #n;
  #r = !1;
  #e = void 0;
  constructor(e, t) {
    this.#t = e, this.#n = t;
  }
  next() {
    const e = () => this.#s();
    return this.#e = this.#e ? this.#e.then(e, e) : e(), this.#e;
  }
  return(e) {
    const t = () => this.#i(e);
    return this.#e ? this.#e.then(t, t) : t();
  }
  async #s() {
    if (this.#r)
      return {
        done: !0,
        value: void 0
      };
    let e;
    try {
      e = await this.#t.read();
    } catch (t) {
      throw this.#e = void 0, this.#r = !0, this.#t.releaseLock(), t;
    }
    return e.done && (this.#e = void 0, this.#r = !0, this.#t.releaseLock()), e;
  }
  async #i(e) {
    if (this.#r)
      return {
        done: !0,
        value: e
      };
    if (this.#r = !0, !this.#n) {
      const t = this.#t.cancel(e);
      return this.#t.releaseLock(), await t, {
        done: !0,
        value: e
      };
    }
    return this.#t.releaseLock(), {
      done: !0,
      value: e
    };
  }
}
const n = Symbol();
function i() {
  return this[n].next();
}
Object.defineProperty(i, "name", { value: "next" });
function o(r) {
  return this[n].return(r);
}
Object.defineProperty(o, "name", { value: "return" });
const u = Object.create(a, {
  next: {
    enumerable: !0,
    configurable: !0,
    writable: !0,
    value: i
  },
  return: {
    enumerable: !0,
    configurable: !0,
    writable: !0,
    value: o
  }
});
function h({ preventCancel: r = !1 } = {}) {
  const e = this.getReader(), t = new c(
    e,
    r
  ), s = Object.create(u);
  return s[n] = t, s;
}


;// CONCATENATED MODULE: ./node_modules/@sec-ant/readable-stream/dist/ponyfill/index.js




;// CONCATENATED MODULE: ./node_modules/get-stream/source/stream.js



const getAsyncIterable = stream => {
	if (isReadableStream(stream, {checkOpen: false}) && nodeImports.on !== undefined) {
		return getStreamIterable(stream);
	}

	if (typeof stream?.[Symbol.asyncIterator] === 'function') {
		return stream;
	}

	// `ReadableStream[Symbol.asyncIterator]` support is missing in multiple browsers, so we ponyfill it
	if (stream_toString.call(stream) === '[object ReadableStream]') {
		return h.call(stream);
	}

	throw new TypeError('The first argument must be a Readable, a ReadableStream, or an async iterable.');
};

const {toString: stream_toString} = Object.prototype;

// The default iterable for Node.js streams does not allow for multiple readers at once, so we re-implement it
const getStreamIterable = async function * (stream) {
	const controller = new AbortController();
	const state = {};
	handleStreamEnd(stream, controller, state);

	try {
		for await (const [chunk] of nodeImports.on(stream, 'data', {signal: controller.signal})) {
			yield chunk;
		}
	} catch (error) {
		// Stream failure, for example due to `stream.destroy(error)`
		if (state.error !== undefined) {
			throw state.error;
		// `error` event directly emitted on stream
		} else if (!controller.signal.aborted) {
			throw error;
		// Otherwise, stream completed successfully
		}
		// The `finally` block also runs when the caller throws, for example due to the `maxBuffer` option
	} finally {
		stream.destroy();
	}
};

const handleStreamEnd = async (stream, controller, state) => {
	try {
		await nodeImports.finished(stream, {
			cleanup: true,
			readable: true,
			writable: false,
			error: false,
		});
	} catch (error) {
		state.error = error;
	} finally {
		controller.abort();
	}
};

// Loaded by the Node entrypoint, but not by the browser one.
// This prevents using dynamic imports.
const nodeImports = {};

;// CONCATENATED MODULE: ./node_modules/get-stream/source/contents.js


const getStreamContents = async (stream, {init, convertChunk, getSize, truncateChunk, addChunk, getFinalChunk, finalize}, {maxBuffer = Number.POSITIVE_INFINITY} = {}) => {
	const asyncIterable = getAsyncIterable(stream);

	const state = init();
	state.length = 0;

	try {
		for await (const chunk of asyncIterable) {
			const chunkType = getChunkType(chunk);
			const convertedChunk = convertChunk[chunkType](chunk, state);
			appendChunk({
				convertedChunk,
				state,
				getSize,
				truncateChunk,
				addChunk,
				maxBuffer,
			});
		}

		appendFinalChunk({
			state,
			convertChunk,
			getSize,
			truncateChunk,
			addChunk,
			getFinalChunk,
			maxBuffer,
		});
		return finalize(state);
	} catch (error) {
		const normalizedError = typeof error === 'object' && error !== null ? error : new Error(error);
		normalizedError.bufferedData = finalize(state);
		throw normalizedError;
	}
};

const appendFinalChunk = ({state, getSize, truncateChunk, addChunk, getFinalChunk, maxBuffer}) => {
	const convertedChunk = getFinalChunk(state);
	if (convertedChunk !== undefined) {
		appendChunk({
			convertedChunk,
			state,
			getSize,
			truncateChunk,
			addChunk,
			maxBuffer,
		});
	}
};

const appendChunk = ({convertedChunk, state, getSize, truncateChunk, addChunk, maxBuffer}) => {
	const chunkSize = getSize(convertedChunk);
	const newLength = state.length + chunkSize;

	if (newLength <= maxBuffer) {
		addNewChunk(convertedChunk, state, addChunk, newLength);
		return;
	}

	const truncatedChunk = truncateChunk(convertedChunk, maxBuffer - state.length);

	if (truncatedChunk !== undefined) {
		addNewChunk(truncatedChunk, state, addChunk, maxBuffer);
	}

	throw new MaxBufferError();
};

const addNewChunk = (convertedChunk, state, addChunk, newLength) => {
	state.contents = addChunk(convertedChunk, state, newLength);
	state.length = newLength;
};

const getChunkType = chunk => {
	const typeOfChunk = typeof chunk;

	if (typeOfChunk === 'string') {
		return 'string';
	}

	if (typeOfChunk !== 'object' || chunk === null) {
		return 'others';
	}

	if (globalThis.Buffer?.isBuffer(chunk)) {
		return 'buffer';
	}

	const prototypeName = contents_objectToString.call(chunk);

	if (prototypeName === '[object ArrayBuffer]') {
		return 'arrayBuffer';
	}

	if (prototypeName === '[object DataView]') {
		return 'dataView';
	}

	if (
		Number.isInteger(chunk.byteLength)
		&& Number.isInteger(chunk.byteOffset)
		&& contents_objectToString.call(chunk.buffer) === '[object ArrayBuffer]'
	) {
		return 'typedArray';
	}

	return 'others';
};

const {toString: contents_objectToString} = Object.prototype;

class MaxBufferError extends Error {
	name = 'MaxBufferError';

	constructor() {
		super('maxBuffer exceeded');
	}
}

;// CONCATENATED MODULE: ./node_modules/get-stream/source/utils.js
const identity = value => value;

const noop = () => undefined;

const getContentsProperty = ({contents}) => contents;

const throwObjectStream = chunk => {
	throw new Error(`Streams in object mode are not supported: ${String(chunk)}`);
};

const getLengthProperty = convertedChunk => convertedChunk.length;

;// CONCATENATED MODULE: ./node_modules/get-stream/source/array-buffer.js



async function getStreamAsArrayBuffer(stream, options) {
	return getStreamContents(stream, arrayBufferMethods, options);
}

const initArrayBuffer = () => ({contents: new ArrayBuffer(0)});

const useTextEncoder = chunk => array_buffer_textEncoder.encode(chunk);
const array_buffer_textEncoder = new TextEncoder();

const useUint8Array = chunk => new Uint8Array(chunk);

const useUint8ArrayWithOffset = chunk => new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);

const truncateArrayBufferChunk = (convertedChunk, chunkSize) => convertedChunk.slice(0, chunkSize);

// `contents` is an increasingly growing `Uint8Array`.
const addArrayBufferChunk = (convertedChunk, {contents, length: previousLength}, length) => {
	const newContents = hasArrayBufferResize() ? resizeArrayBuffer(contents, length) : resizeArrayBufferSlow(contents, length);
	new Uint8Array(newContents).set(convertedChunk, previousLength);
	return newContents;
};

// Without `ArrayBuffer.resize()`, `contents` size is always a power of 2.
// This means its last bytes are zeroes (not stream data), which need to be
// trimmed at the end with `ArrayBuffer.slice()`.
const resizeArrayBufferSlow = (contents, length) => {
	if (length <= contents.byteLength) {
		return contents;
	}

	const arrayBuffer = new ArrayBuffer(getNewContentsLength(length));
	new Uint8Array(arrayBuffer).set(new Uint8Array(contents), 0);
	return arrayBuffer;
};

// With `ArrayBuffer.resize()`, `contents` size matches exactly the size of
// the stream data. It does not include extraneous zeroes to trim at the end.
// The underlying `ArrayBuffer` does allocate a number of bytes that is a power
// of 2, but those bytes are only visible after calling `ArrayBuffer.resize()`.
const resizeArrayBuffer = (contents, length) => {
	if (length <= contents.maxByteLength) {
		contents.resize(length);
		return contents;
	}

	const arrayBuffer = new ArrayBuffer(length, {maxByteLength: getNewContentsLength(length)});
	new Uint8Array(arrayBuffer).set(new Uint8Array(contents), 0);
	return arrayBuffer;
};

// Retrieve the closest `length` that is both >= and a power of 2
const getNewContentsLength = length => SCALE_FACTOR ** Math.ceil(Math.log(length) / Math.log(SCALE_FACTOR));

const SCALE_FACTOR = 2;

const finalizeArrayBuffer = ({contents, length}) => hasArrayBufferResize() ? contents : contents.slice(0, length);

// `ArrayBuffer.slice()` is slow. When `ArrayBuffer.resize()` is available
// (Node >=20.0.0, Safari >=16.4 and Chrome), we can use it instead.
// eslint-disable-next-line no-warning-comments
// TODO: remove after dropping support for Node 20.
// eslint-disable-next-line no-warning-comments
// TODO: use `ArrayBuffer.transferToFixedLength()` instead once it is available
const hasArrayBufferResize = () => 'resize' in ArrayBuffer.prototype;

const arrayBufferMethods = {
	init: initArrayBuffer,
	convertChunk: {
		string: useTextEncoder,
		buffer: useUint8Array,
		arrayBuffer: useUint8Array,
		dataView: useUint8ArrayWithOffset,
		typedArray: useUint8ArrayWithOffset,
		others: throwObjectStream,
	},
	getSize: getLengthProperty,
	truncateChunk: truncateArrayBufferChunk,
	addChunk: addArrayBufferChunk,
	getFinalChunk: noop,
	finalize: finalizeArrayBuffer,
};

;// CONCATENATED MODULE: ./node_modules/get-stream/source/buffer.js


async function getStreamAsBuffer(stream, options) {
	if (!('Buffer' in globalThis)) {
		throw new Error('getStreamAsBuffer() is only supported in Node.js');
	}

	try {
		return arrayBufferToNodeBuffer(await getStreamAsArrayBuffer(stream, options));
	} catch (error) {
		if (error.bufferedData !== undefined) {
			error.bufferedData = arrayBufferToNodeBuffer(error.bufferedData);
		}

		throw error;
	}
}

const arrayBufferToNodeBuffer = arrayBuffer => globalThis.Buffer.from(arrayBuffer);

// EXTERNAL MODULE: ./node_modules/http-cache-semantics/index.js
var http_cache_semantics = __nccwpck_require__(2203);
// EXTERNAL MODULE: external "buffer"
var external_buffer_ = __nccwpck_require__(181);
;// CONCATENATED MODULE: ./node_modules/@keyv/serialize/dist/index.js
// src/index.ts

var _serialize = (data, escapeColonStrings = true) => {
  if (data === void 0 || data === null) {
    return "null";
  }
  if (typeof data === "string") {
    return JSON.stringify(
      escapeColonStrings && data.startsWith(":") ? `:${data}` : data
    );
  }
  if (external_buffer_.Buffer.isBuffer(data)) {
    return JSON.stringify(`:base64:${data.toString("base64")}`);
  }
  if (data?.toJSON) {
    data = data.toJSON();
  }
  if (typeof data === "object") {
    let s = "";
    const array = Array.isArray(data);
    s = array ? "[" : "{";
    let first = true;
    for (const k in data) {
      const ignore = typeof data[k] === "function" || !array && data[k] === void 0;
      if (!Object.hasOwn(data, k) || ignore) {
        continue;
      }
      if (!first) {
        s += ",";
      }
      first = false;
      if (array) {
        s += _serialize(data[k], escapeColonStrings);
      } else if (data[k] !== void 0) {
        s += `${_serialize(k, false)}:${_serialize(data[k], escapeColonStrings)}`;
      }
    }
    s += array ? "]" : "}";
    return s;
  }
  return JSON.stringify(data);
};
var defaultSerialize = (data) => {
  return _serialize(data, true);
};
var defaultDeserialize = (data) => JSON.parse(data, (_, value) => {
  if (typeof value === "string") {
    if (value.startsWith(":base64:")) {
      return external_buffer_.Buffer.from(value.slice(8), "base64");
    }
    return value.startsWith(":") ? value.slice(1) : value;
  }
  return value;
});


;// CONCATENATED MODULE: ./node_modules/keyv/dist/index.js
// src/index.ts


// src/event-manager.ts
var EventManager = class {
  _eventListeners;
  _maxListeners;
  constructor() {
    this._eventListeners = /* @__PURE__ */ new Map();
    this._maxListeners = 100;
  }
  maxListeners() {
    return this._maxListeners;
  }
  // Add an event listener
  addListener(event, listener) {
    this.on(event, listener);
  }
  on(event, listener) {
    if (!this._eventListeners.has(event)) {
      this._eventListeners.set(event, []);
    }
    const listeners = this._eventListeners.get(event);
    if (listeners) {
      if (listeners.length >= this._maxListeners) {
        console.warn(
          `MaxListenersExceededWarning: Possible event memory leak detected. ${listeners.length + 1} ${event} listeners added. Use setMaxListeners() to increase limit.`
        );
      }
      listeners.push(listener);
    }
    return this;
  }
  // Remove an event listener
  removeListener(event, listener) {
    this.off(event, listener);
  }
  off(event, listener) {
    const listeners = this._eventListeners.get(event) ?? [];
    const index = listeners.indexOf(listener);
    if (index !== -1) {
      listeners.splice(index, 1);
    }
    if (listeners.length === 0) {
      this._eventListeners.delete(event);
    }
  }
  once(event, listener) {
    const onceListener = (...arguments_) => {
      listener(...arguments_);
      this.off(event, onceListener);
    };
    this.on(event, onceListener);
  }
  // Emit an event
  // biome-ignore lint/suspicious/noExplicitAny: type format
  emit(event, ...arguments_) {
    const listeners = this._eventListeners.get(event);
    if (listeners && listeners.length > 0) {
      for (const listener of listeners) {
        listener(...arguments_);
      }
    }
  }
  // Get all listeners for a specific event
  listeners(event) {
    return this._eventListeners.get(event) ?? [];
  }
  // Remove all listeners for a specific event
  removeAllListeners(event) {
    if (event) {
      this._eventListeners.delete(event);
    } else {
      this._eventListeners.clear();
    }
  }
  // Set the maximum number of listeners for a single event
  setMaxListeners(n) {
    this._maxListeners = n;
  }
};
var event_manager_default = EventManager;

// src/hooks-manager.ts
var HooksManager = class extends event_manager_default {
  _hookHandlers;
  constructor() {
    super();
    this._hookHandlers = /* @__PURE__ */ new Map();
  }
  // Adds a handler function for a specific event
  addHandler(event, handler) {
    const eventHandlers = this._hookHandlers.get(event);
    if (eventHandlers) {
      eventHandlers.push(handler);
    } else {
      this._hookHandlers.set(event, [handler]);
    }
  }
  // Removes a specific handler function for a specific event
  removeHandler(event, handler) {
    const eventHandlers = this._hookHandlers.get(event);
    if (eventHandlers) {
      const index = eventHandlers.indexOf(handler);
      if (index !== -1) {
        eventHandlers.splice(index, 1);
      }
    }
  }
  // Triggers all handlers for a specific event with provided data
  // biome-ignore lint/suspicious/noExplicitAny: type format
  trigger(event, data) {
    const eventHandlers = this._hookHandlers.get(event);
    if (eventHandlers) {
      for (const handler of eventHandlers) {
        try {
          handler(data);
        } catch (error) {
          this.emit(
            "error",
            new Error(
              `Error in hook handler for event "${event}": ${error.message}`
            )
          );
        }
      }
    }
  }
  // Provides read-only access to the current handlers
  get handlers() {
    return new Map(this._hookHandlers);
  }
};
var hooks_manager_default = HooksManager;

// src/stats-manager.ts
var StatsManager = class extends event_manager_default {
  enabled = true;
  hits = 0;
  misses = 0;
  sets = 0;
  deletes = 0;
  errors = 0;
  constructor(enabled) {
    super();
    if (enabled !== void 0) {
      this.enabled = enabled;
    }
    this.reset();
  }
  hit() {
    if (this.enabled) {
      this.hits++;
    }
  }
  miss() {
    if (this.enabled) {
      this.misses++;
    }
  }
  set() {
    if (this.enabled) {
      this.sets++;
    }
  }
  delete() {
    if (this.enabled) {
      this.deletes++;
    }
  }
  hitsOrMisses(array) {
    for (const item of array) {
      if (item === void 0) {
        this.miss();
      } else {
        this.hit();
      }
    }
  }
  reset() {
    this.hits = 0;
    this.misses = 0;
    this.sets = 0;
    this.deletes = 0;
    this.errors = 0;
  }
};
var stats_manager_default = StatsManager;

// src/index.ts
var KeyvHooks = /* @__PURE__ */ ((KeyvHooks2) => {
  KeyvHooks2["PRE_SET"] = "preSet";
  KeyvHooks2["POST_SET"] = "postSet";
  KeyvHooks2["PRE_GET"] = "preGet";
  KeyvHooks2["POST_GET"] = "postGet";
  KeyvHooks2["PRE_GET_MANY"] = "preGetMany";
  KeyvHooks2["POST_GET_MANY"] = "postGetMany";
  KeyvHooks2["PRE_GET_RAW"] = "preGetRaw";
  KeyvHooks2["POST_GET_RAW"] = "postGetRaw";
  KeyvHooks2["PRE_GET_MANY_RAW"] = "preGetManyRaw";
  KeyvHooks2["POST_GET_MANY_RAW"] = "postGetManyRaw";
  KeyvHooks2["PRE_DELETE"] = "preDelete";
  KeyvHooks2["POST_DELETE"] = "postDelete";
  return KeyvHooks2;
})(KeyvHooks || {});
var iterableAdapters = [
  "sqlite",
  "postgres",
  "mysql",
  "mongo",
  "redis",
  "valkey",
  "etcd"
];
var Keyv = class extends event_manager_default {
  opts;
  iterator;
  hooks = new hooks_manager_default();
  stats = new stats_manager_default(false);
  /**
   * Time to live in milliseconds
   */
  _ttl;
  /**
   * Namespace
   */
  _namespace;
  /**
   * Store
   */
  // biome-ignore lint/suspicious/noExplicitAny: type format
  _store = /* @__PURE__ */ new Map();
  _serialize = defaultSerialize;
  _deserialize = defaultDeserialize;
  _compression;
  _useKeyPrefix = true;
  _throwOnErrors = false;
  /**
   * Keyv Constructor
   * @param {KeyvStoreAdapter | KeyvOptions} store
   * @param {Omit<KeyvOptions, 'store'>} [options] if you provide the store you can then provide the Keyv Options
   */
  constructor(store, options) {
    super();
    options ??= {};
    store ??= {};
    this.opts = {
      namespace: "keyv",
      serialize: defaultSerialize,
      deserialize: defaultDeserialize,
      emitErrors: true,
      // @ts-expect-error - Map is not a KeyvStoreAdapter
      store: /* @__PURE__ */ new Map(),
      ...options
    };
    if (store && store.get) {
      this.opts.store = store;
    } else {
      this.opts = {
        ...this.opts,
        ...store
      };
    }
    this._store = this.opts.store ?? /* @__PURE__ */ new Map();
    this._compression = this.opts.compression;
    this._serialize = this.opts.serialize;
    this._deserialize = this.opts.deserialize;
    if (this.opts.namespace) {
      this._namespace = this.opts.namespace;
    }
    if (this._store) {
      if (!this._isValidStorageAdapter(this._store)) {
        throw new Error("Invalid storage adapter");
      }
      if (typeof this._store.on === "function") {
        this._store.on("error", (error) => this.emit("error", error));
      }
      this._store.namespace = this._namespace;
      if (typeof this._store[Symbol.iterator] === "function" && this._store instanceof Map) {
        this.iterator = this.generateIterator(
          this._store
        );
      } else if ("iterator" in this._store && this._store.opts && this._checkIterableAdapter()) {
        this.iterator = this.generateIterator(
          // biome-ignore lint/style/noNonNullAssertion: need to fix
          this._store.iterator.bind(this._store)
        );
      }
    }
    if (this.opts.stats) {
      this.stats.enabled = this.opts.stats;
    }
    if (this.opts.ttl) {
      this._ttl = this.opts.ttl;
    }
    if (this.opts.useKeyPrefix !== void 0) {
      this._useKeyPrefix = this.opts.useKeyPrefix;
    }
    if (this.opts.throwOnErrors !== void 0) {
      this._throwOnErrors = this.opts.throwOnErrors;
    }
  }
  /**
   * Get the current store
   */
  // biome-ignore lint/suspicious/noExplicitAny: type format
  get store() {
    return this._store;
  }
  /**
   * Set the current store. This will also set the namespace, event error handler, and generate the iterator. If the store is not valid it will throw an error.
   * @param {KeyvStoreAdapter | Map<any, any> | any} store the store to set
   */
  // biome-ignore lint/suspicious/noExplicitAny: type format
  set store(store) {
    if (this._isValidStorageAdapter(store)) {
      this._store = store;
      this.opts.store = store;
      if (typeof store.on === "function") {
        store.on("error", (error) => this.emit("error", error));
      }
      if (this._namespace) {
        this._store.namespace = this._namespace;
      }
      if (typeof store[Symbol.iterator] === "function" && store instanceof Map) {
        this.iterator = this.generateIterator(
          store
        );
      } else if ("iterator" in store && store.opts && this._checkIterableAdapter()) {
        this.iterator = this.generateIterator(store.iterator?.bind(store));
      }
    } else {
      throw new Error("Invalid storage adapter");
    }
  }
  /**
   * Get the current compression function
   * @returns {CompressionAdapter} The current compression function
   */
  get compression() {
    return this._compression;
  }
  /**
   * Set the current compression function
   * @param {CompressionAdapter} compress The compression function to set
   */
  set compression(compress) {
    this._compression = compress;
  }
  /**
   * Get the current namespace.
   * @returns {string | undefined} The current namespace.
   */
  get namespace() {
    return this._namespace;
  }
  /**
   * Set the current namespace.
   * @param {string | undefined} namespace The namespace to set.
   */
  set namespace(namespace) {
    this._namespace = namespace;
    this.opts.namespace = namespace;
    this._store.namespace = namespace;
    if (this.opts.store) {
      this.opts.store.namespace = namespace;
    }
  }
  /**
   * Get the current TTL.
   * @returns {number} The current TTL in milliseconds.
   */
  get ttl() {
    return this._ttl;
  }
  /**
   * Set the current TTL.
   * @param {number} ttl The TTL to set in milliseconds.
   */
  set ttl(ttl) {
    this.opts.ttl = ttl;
    this._ttl = ttl;
  }
  /**
   * Get the current serialize function.
   * @returns {Serialize} The current serialize function.
   */
  get serialize() {
    return this._serialize;
  }
  /**
   * Set the current serialize function.
   * @param {Serialize} serialize The serialize function to set.
   */
  set serialize(serialize) {
    this.opts.serialize = serialize;
    this._serialize = serialize;
  }
  /**
   * Get the current deserialize function.
   * @returns {Deserialize} The current deserialize function.
   */
  get deserialize() {
    return this._deserialize;
  }
  /**
   * Set the current deserialize function.
   * @param {Deserialize} deserialize The deserialize function to set.
   */
  set deserialize(deserialize) {
    this.opts.deserialize = deserialize;
    this._deserialize = deserialize;
  }
  /**
   * Get the current useKeyPrefix value. This will enable or disable key prefixing.
   * @returns {boolean} The current useKeyPrefix value.
   * @default true
   */
  get useKeyPrefix() {
    return this._useKeyPrefix;
  }
  /**
   * Set the current useKeyPrefix value. This will enable or disable key prefixing.
   * @param {boolean} value The useKeyPrefix value to set.
   */
  set useKeyPrefix(value) {
    this._useKeyPrefix = value;
    this.opts.useKeyPrefix = value;
  }
  /**
   * Get the current throwErrors value. This will enable or disable throwing errors on methods in addition to emitting them.
   * @return {boolean} The current throwOnErrors value.
   */
  get throwOnErrors() {
    return this._throwOnErrors;
  }
  /**
   * Set the current throwOnErrors value. This will enable or disable throwing errors on methods in addition to emitting them.
   * @param {boolean} value The throwOnErrors value to set.
   */
  set throwOnErrors(value) {
    this._throwOnErrors = value;
    this.opts.throwOnErrors = value;
  }
  generateIterator(iterator) {
    const function_ = async function* () {
      for await (const [key, raw] of typeof iterator === "function" ? iterator(this._store.namespace) : iterator) {
        const data = await this.deserializeData(raw);
        if (this._useKeyPrefix && this._store.namespace && !key.includes(this._store.namespace)) {
          continue;
        }
        if (typeof data.expires === "number" && Date.now() > data.expires) {
          await this.delete(key);
          continue;
        }
        yield [this._getKeyUnprefix(key), data.value];
      }
    };
    return function_.bind(this);
  }
  _checkIterableAdapter() {
    return iterableAdapters.includes(this._store.opts.dialect) || iterableAdapters.some(
      (element) => this._store.opts.url.includes(element)
    );
  }
  _getKeyPrefix(key) {
    if (!this._useKeyPrefix) {
      return key;
    }
    if (!this._namespace) {
      return key;
    }
    if (key.startsWith(`${this._namespace}:`)) {
      return key;
    }
    return `${this._namespace}:${key}`;
  }
  _getKeyPrefixArray(keys) {
    if (!this._useKeyPrefix) {
      return keys;
    }
    if (!this._namespace) {
      return keys;
    }
    return keys.map((key) => `${this._namespace}:${key}`);
  }
  _getKeyUnprefix(key) {
    if (!this._useKeyPrefix) {
      return key;
    }
    return key.split(":").splice(1).join(":");
  }
  // biome-ignore lint/suspicious/noExplicitAny: type format
  _isValidStorageAdapter(store) {
    return store instanceof Map || typeof store.get === "function" && typeof store.set === "function" && typeof store.delete === "function" && typeof store.clear === "function";
  }
  // eslint-disable-next-line @stylistic/max-len
  async get(key, options) {
    const { store } = this.opts;
    const isArray = Array.isArray(key);
    const keyPrefixed = isArray ? this._getKeyPrefixArray(key) : this._getKeyPrefix(key);
    const isDataExpired = (data) => typeof data.expires === "number" && Date.now() > data.expires;
    if (isArray) {
      if (options?.raw === true) {
        return this.getMany(key, { raw: true });
      }
      return this.getMany(key, { raw: false });
    }
    this.hooks.trigger("preGet" /* PRE_GET */, { key: keyPrefixed });
    let rawData;
    try {
      rawData = await store.get(keyPrefixed);
    } catch (error) {
      if (this.throwOnErrors) {
        throw error;
      }
    }
    const deserializedData = typeof rawData === "string" || this.opts.compression ? await this.deserializeData(rawData) : rawData;
    if (deserializedData === void 0 || deserializedData === null) {
      this.hooks.trigger("postGet" /* POST_GET */, {
        key: keyPrefixed,
        value: void 0
      });
      this.stats.miss();
      return void 0;
    }
    if (isDataExpired(deserializedData)) {
      await this.delete(key);
      this.hooks.trigger("postGet" /* POST_GET */, {
        key: keyPrefixed,
        value: void 0
      });
      this.stats.miss();
      return void 0;
    }
    this.hooks.trigger("postGet" /* POST_GET */, {
      key: keyPrefixed,
      value: deserializedData
    });
    this.stats.hit();
    return options?.raw ? deserializedData : deserializedData.value;
  }
  async getMany(keys, options) {
    const { store } = this.opts;
    const keyPrefixed = this._getKeyPrefixArray(keys);
    const isDataExpired = (data) => typeof data.expires === "number" && Date.now() > data.expires;
    this.hooks.trigger("preGetMany" /* PRE_GET_MANY */, { keys: keyPrefixed });
    if (store.getMany === void 0) {
      const promises = keyPrefixed.map(async (key) => {
        const rawData2 = await store.get(key);
        const deserializedRow = typeof rawData2 === "string" || this.opts.compression ? await this.deserializeData(rawData2) : rawData2;
        if (deserializedRow === void 0 || deserializedRow === null) {
          return void 0;
        }
        if (isDataExpired(deserializedRow)) {
          await this.delete(key);
          return void 0;
        }
        return options?.raw ? deserializedRow : deserializedRow.value;
      });
      const deserializedRows = await Promise.allSettled(promises);
      const result2 = deserializedRows.map(
        // biome-ignore lint/suspicious/noExplicitAny: type format
        (row) => row.value
      );
      this.hooks.trigger("postGetMany" /* POST_GET_MANY */, result2);
      if (result2.length > 0) {
        this.stats.hit();
      }
      return result2;
    }
    const rawData = await store.getMany(keyPrefixed);
    const result = [];
    const expiredKeys = [];
    for (const index in rawData) {
      let row = rawData[index];
      if (typeof row === "string") {
        row = await this.deserializeData(row);
      }
      if (row === void 0 || row === null) {
        result.push(void 0);
        continue;
      }
      if (isDataExpired(row)) {
        expiredKeys.push(keys[index]);
        result.push(void 0);
        continue;
      }
      const value = options?.raw ? row : row.value;
      result.push(value);
    }
    if (expiredKeys.length > 0) {
      await this.deleteMany(expiredKeys);
    }
    this.hooks.trigger("postGetMany" /* POST_GET_MANY */, result);
    if (result.length > 0) {
      this.stats.hit();
    }
    return result;
  }
  /**
   * Get the raw value of a key. This is the replacement for setting raw to true in the get() method.
   * @param {string} key the key to get
   * @returns {Promise<StoredDataRaw<Value> | undefined>} will return a StoredDataRaw<Value> or undefined if the key does not exist or is expired.
   */
  async getRaw(key) {
    const { store } = this.opts;
    const keyPrefixed = this._getKeyPrefix(key);
    this.hooks.trigger("preGetRaw" /* PRE_GET_RAW */, { key: keyPrefixed });
    const rawData = await store.get(keyPrefixed);
    if (rawData === void 0 || rawData === null) {
      this.hooks.trigger("postGetRaw" /* POST_GET_RAW */, {
        key: keyPrefixed,
        value: void 0
      });
      this.stats.miss();
      return void 0;
    }
    const deserializedData = typeof rawData === "string" || this.opts.compression ? await this.deserializeData(rawData) : rawData;
    if (deserializedData !== void 0 && deserializedData.expires !== void 0 && deserializedData.expires !== null && // biome-ignore lint/style/noNonNullAssertion: need to fix
    deserializedData.expires < Date.now()) {
      this.hooks.trigger("postGetRaw" /* POST_GET_RAW */, {
        key: keyPrefixed,
        value: void 0
      });
      this.stats.miss();
      await this.delete(key);
      return void 0;
    }
    this.stats.hit();
    this.hooks.trigger("postGetRaw" /* POST_GET_RAW */, {
      key: keyPrefixed,
      value: deserializedData
    });
    return deserializedData;
  }
  /**
   * Get the raw values of many keys. This is the replacement for setting raw to true in the getMany() method.
   * @param {string[]} keys the keys to get
   * @returns {Promise<Array<StoredDataRaw<Value>>>} will return an array of StoredDataRaw<Value> or undefined if the key does not exist or is expired.
   */
  async getManyRaw(keys) {
    const { store } = this.opts;
    const keyPrefixed = this._getKeyPrefixArray(keys);
    if (keys.length === 0) {
      const result2 = Array.from({ length: keys.length }).fill(
        void 0
      );
      this.stats.misses += keys.length;
      this.hooks.trigger("postGetManyRaw" /* POST_GET_MANY_RAW */, {
        keys: keyPrefixed,
        values: result2
      });
      return result2;
    }
    let result = [];
    if (store.getMany === void 0) {
      const promises = keyPrefixed.map(async (key) => {
        const rawData = await store.get(key);
        if (rawData !== void 0 && rawData !== null) {
          return this.deserializeData(rawData);
        }
        return void 0;
      });
      const deserializedRows = await Promise.allSettled(promises);
      result = deserializedRows.map(
        // biome-ignore lint/suspicious/noExplicitAny: type format
        (row) => row.value
      );
    } else {
      const rawData = await store.getMany(keyPrefixed);
      for (const row of rawData) {
        if (row !== void 0 && row !== null) {
          result.push(await this.deserializeData(row));
        } else {
          result.push(void 0);
        }
      }
    }
    const expiredKeys = [];
    const isDataExpired = (data) => typeof data.expires === "number" && Date.now() > data.expires;
    for (const [index, row] of result.entries()) {
      if (row !== void 0 && isDataExpired(row)) {
        expiredKeys.push(keyPrefixed[index]);
        result[index] = void 0;
      }
    }
    if (expiredKeys.length > 0) {
      await this.deleteMany(expiredKeys);
    }
    this.stats.hitsOrMisses(result);
    this.hooks.trigger("postGetManyRaw" /* POST_GET_MANY_RAW */, {
      keys: keyPrefixed,
      values: result
    });
    return result;
  }
  /**
   * Set an item to the store
   * @param {string | Array<KeyvEntry>} key the key to use. If you pass in an array of KeyvEntry it will set many items
   * @param {Value} value the value of the key
   * @param {number} [ttl] time to live in milliseconds
   * @returns {boolean} if it sets then it will return a true. On failure will return false.
   */
  async set(key, value, ttl) {
    const data = { key, value, ttl };
    this.hooks.trigger("preSet" /* PRE_SET */, data);
    const keyPrefixed = this._getKeyPrefix(data.key);
    data.ttl ??= this._ttl;
    if (data.ttl === 0) {
      data.ttl = void 0;
    }
    const { store } = this.opts;
    const expires = typeof data.ttl === "number" ? Date.now() + data.ttl : void 0;
    if (typeof data.value === "symbol") {
      this.emit("error", "symbol cannot be serialized");
      throw new Error("symbol cannot be serialized");
    }
    const formattedValue = { value: data.value, expires };
    const serializedValue = await this.serializeData(formattedValue);
    let result = true;
    try {
      const value2 = await store.set(keyPrefixed, serializedValue, data.ttl);
      if (typeof value2 === "boolean") {
        result = value2;
      }
    } catch (error) {
      result = false;
      this.emit("error", error);
      if (this._throwOnErrors) {
        throw error;
      }
    }
    this.hooks.trigger("postSet" /* POST_SET */, {
      key: keyPrefixed,
      value: serializedValue,
      ttl
    });
    this.stats.set();
    return result;
  }
  /**
   * Set many items to the store
   * @param {Array<KeyvEntry>} entries the entries to set
   * @returns {boolean[]} will return an array of booleans if it sets then it will return a true. On failure will return false.
   */
  // biome-ignore lint/correctness/noUnusedVariables: type format
  async setMany(entries) {
    let results = [];
    try {
      if (this._store.setMany === void 0) {
        const promises = [];
        for (const entry of entries) {
          promises.push(this.set(entry.key, entry.value, entry.ttl));
        }
        const promiseResults = await Promise.all(promises);
        results = promiseResults;
      } else {
        const serializedEntries = await Promise.all(
          entries.map(async ({ key, value, ttl }) => {
            ttl ??= this._ttl;
            if (ttl === 0) {
              ttl = void 0;
            }
            const expires = typeof ttl === "number" ? Date.now() + ttl : void 0;
            if (typeof value === "symbol") {
              this.emit("error", "symbol cannot be serialized");
              throw new Error("symbol cannot be serialized");
            }
            const formattedValue = { value, expires };
            const serializedValue = await this.serializeData(formattedValue);
            const keyPrefixed = this._getKeyPrefix(key);
            return { key: keyPrefixed, value: serializedValue, ttl };
          })
        );
        results = await this._store.setMany(serializedEntries);
      }
    } catch (error) {
      this.emit("error", error);
      if (this._throwOnErrors) {
        throw error;
      }
      results = entries.map(() => false);
    }
    return results;
  }
  /**
   * Delete an Entry
   * @param {string | string[]} key the key to be deleted. if an array it will delete many items
   * @returns {boolean} will return true if item or items are deleted. false if there is an error
   */
  async delete(key) {
    const { store } = this.opts;
    if (Array.isArray(key)) {
      return this.deleteMany(key);
    }
    const keyPrefixed = this._getKeyPrefix(key);
    this.hooks.trigger("preDelete" /* PRE_DELETE */, { key: keyPrefixed });
    let result = true;
    try {
      const value = await store.delete(keyPrefixed);
      if (typeof value === "boolean") {
        result = value;
      }
    } catch (error) {
      result = false;
      this.emit("error", error);
      if (this._throwOnErrors) {
        throw error;
      }
    }
    this.hooks.trigger("postDelete" /* POST_DELETE */, {
      key: keyPrefixed,
      value: result
    });
    this.stats.delete();
    return result;
  }
  /**
   * Delete many items from the store
   * @param {string[]} keys the keys to be deleted
   * @returns {boolean} will return true if item or items are deleted. false if there is an error
   */
  async deleteMany(keys) {
    try {
      const { store } = this.opts;
      const keyPrefixed = this._getKeyPrefixArray(keys);
      this.hooks.trigger("preDelete" /* PRE_DELETE */, { key: keyPrefixed });
      if (store.deleteMany !== void 0) {
        return await store.deleteMany(keyPrefixed);
      }
      const promises = keyPrefixed.map(async (key) => store.delete(key));
      const results = await Promise.all(promises);
      const returnResult = results.every(Boolean);
      this.hooks.trigger("postDelete" /* POST_DELETE */, {
        key: keyPrefixed,
        value: returnResult
      });
      return returnResult;
    } catch (error) {
      this.emit("error", error);
      if (this._throwOnErrors) {
        throw error;
      }
      return false;
    }
  }
  /**
   * Clear the store
   * @returns {void}
   */
  async clear() {
    this.emit("clear");
    const { store } = this.opts;
    try {
      await store.clear();
    } catch (error) {
      this.emit("error", error);
      if (this._throwOnErrors) {
        throw error;
      }
    }
  }
  async has(key) {
    if (Array.isArray(key)) {
      return this.hasMany(key);
    }
    const keyPrefixed = this._getKeyPrefix(key);
    const { store } = this.opts;
    if (store.has !== void 0 && !(store instanceof Map)) {
      return store.has(keyPrefixed);
    }
    let rawData;
    try {
      rawData = await store.get(keyPrefixed);
    } catch (error) {
      this.emit("error", error);
      if (this._throwOnErrors) {
        throw error;
      }
      return false;
    }
    if (rawData) {
      const data = await this.deserializeData(rawData);
      if (data) {
        if (data.expires === void 0 || data.expires === null) {
          return true;
        }
        return data.expires > Date.now();
      }
    }
    return false;
  }
  /**
   * Check if many keys exist
   * @param {string[]} keys the keys to check
   * @returns {boolean[]} will return an array of booleans if the keys exist
   */
  async hasMany(keys) {
    const keyPrefixed = this._getKeyPrefixArray(keys);
    const { store } = this.opts;
    if (store.hasMany !== void 0) {
      return store.hasMany(keyPrefixed);
    }
    const results = [];
    for (const key of keys) {
      results.push(await this.has(key));
    }
    return results;
  }
  /**
   * Will disconnect the store. This is only available if the store has a disconnect method
   * @returns {Promise<void>}
   */
  async disconnect() {
    const { store } = this.opts;
    this.emit("disconnect");
    if (typeof store.disconnect === "function") {
      return store.disconnect();
    }
  }
  // biome-ignore lint/suspicious/noExplicitAny: type format
  emit(event, ...arguments_) {
    if (event === "error" && !this.opts.emitErrors) {
      return;
    }
    super.emit(event, ...arguments_);
  }
  async serializeData(data) {
    if (!this._serialize) {
      return data;
    }
    if (this._compression?.compress) {
      return this._serialize({
        value: await this._compression.compress(data.value),
        expires: data.expires
      });
    }
    return this._serialize(data);
  }
  async deserializeData(data) {
    if (!this._deserialize) {
      return data;
    }
    if (this._compression?.decompress && typeof data === "string") {
      const result = await this._deserialize(data);
      return {
        value: await this._compression.decompress(result?.value),
        expires: result?.expires
      };
    }
    if (typeof data === "string") {
      return this._deserialize(data);
    }
    return void 0;
  }
};
var index_default = (/* unused pure expression or super */ null && (Keyv));

/* v8 ignore next -- @preserve */

;// CONCATENATED MODULE: ./node_modules/mimic-response/index.js
// We define these manually to ensure they're always copied
// even if they would move up the prototype chain
// https://nodejs.org/api/http.html#http_class_http_incomingmessage
const knownProperties = [
	'aborted',
	'complete',
	'headers',
	'httpVersion',
	'httpVersionMinor',
	'httpVersionMajor',
	'method',
	'rawHeaders',
	'rawTrailers',
	'setTimeout',
	'socket',
	'statusCode',
	'statusMessage',
	'trailers',
	'url',
];

function mimicResponse(fromStream, toStream) {
	if (toStream._readableState.autoDestroy) {
		throw new Error('The second stream must have the `autoDestroy` option set to `false`');
	}

	const fromProperties = new Set([...Object.keys(fromStream), ...knownProperties]);

	const properties = {};

	for (const property of fromProperties) {
		// Don't overwrite existing properties.
		if (property in toStream) {
			continue;
		}

		properties[property] = {
			get() {
				const value = fromStream[property];
				const isFunction = typeof value === 'function';

				return isFunction ? value.bind(fromStream) : value;
			},
			set(value) {
				fromStream[property] = value;
			},
			enumerable: true,
			configurable: false,
		};
	}

	Object.defineProperties(toStream, properties);

	fromStream.once('aborted', () => {
		toStream.destroy();

		toStream.emit('aborted');
	});

	fromStream.once('close', () => {
		if (fromStream.complete) {
			if (toStream.readable) {
				toStream.once('end', () => {
					toStream.emit('close');
				});
			} else {
				toStream.emit('close');
			}
		} else {
			toStream.emit('close');
		}
	});

	return toStream;
}

;// CONCATENATED MODULE: ./node_modules/normalize-url/index.js
// https://developer.mozilla.org/en-US/docs/Web/HTTP/Basics_of_HTTP/Data_URIs
const DATA_URL_DEFAULT_MIME_TYPE = 'text/plain';
const DATA_URL_DEFAULT_CHARSET = 'us-ascii';

const testParameter = (name, filters) => filters.some(filter => filter instanceof RegExp ? filter.test(name) : filter === name);

const supportedProtocols = new Set([
	'https:',
	'http:',
	'file:',
]);

const hasCustomProtocol = urlString => {
	try {
		const {protocol} = new URL(urlString);

		return protocol.endsWith(':')
			&& !protocol.includes('.')
			&& !supportedProtocols.has(protocol);
	} catch {
		return false;
	}
};

const normalizeDataURL = (urlString, {stripHash}) => {
	const match = /^data:(?<type>[^,]*?),(?<data>[^#]*?)(?:#(?<hash>.*))?$/.exec(urlString);

	if (!match) {
		throw new Error(`Invalid URL: ${urlString}`);
	}

	const {type, data, hash} = match.groups;
	const mediaType = type.split(';');

	const isBase64 = mediaType.at(-1) === 'base64';
	if (isBase64) {
		mediaType.pop();
	}

	// Lowercase MIME type
	const mimeType = mediaType.shift()?.toLowerCase() ?? '';
	const attributes = mediaType
		.map(attribute => {
			let [key, value = ''] = attribute.split('=').map(string => string.trim());

			// Lowercase `charset`
			if (key === 'charset') {
				value = value.toLowerCase();

				if (value === DATA_URL_DEFAULT_CHARSET) {
					return '';
				}
			}

			return `${key}${value ? `=${value}` : ''}`;
		})
		.filter(Boolean);

	const normalizedMediaType = [...attributes];

	if (isBase64) {
		normalizedMediaType.push('base64');
	}

	if (normalizedMediaType.length > 0 || (mimeType && mimeType !== DATA_URL_DEFAULT_MIME_TYPE)) {
		normalizedMediaType.unshift(mimeType);
	}

	const hashPart = stripHash || !hash ? '' : `#${hash}`;
	return `data:${normalizedMediaType.join(';')},${isBase64 ? data.trim() : data}${hashPart}`;
};

function normalizeUrl(urlString, options) {
	options = {
		defaultProtocol: 'http',
		normalizeProtocol: true,
		forceHttp: false,
		forceHttps: false,
		stripAuthentication: true,
		stripHash: false,
		stripTextFragment: true,
		stripWWW: true,
		removeQueryParameters: [/^utm_\w+/i],
		removeTrailingSlash: true,
		removeSingleSlash: true,
		removeDirectoryIndex: false,
		removeExplicitPort: false,
		sortQueryParameters: true,
		removePath: false,
		transformPath: false,
		...options,
	};

	// Legacy: Append `:` to the protocol if missing.
	if (typeof options.defaultProtocol === 'string' && !options.defaultProtocol.endsWith(':')) {
		options.defaultProtocol = `${options.defaultProtocol}:`;
	}

	urlString = urlString.trim();

	// Data URL
	if (/^data:/i.test(urlString)) {
		return normalizeDataURL(urlString, options);
	}

	if (hasCustomProtocol(urlString)) {
		return urlString;
	}

	const hasRelativeProtocol = urlString.startsWith('//');
	const isRelativeUrl = !hasRelativeProtocol && /^\.*\//.test(urlString);

	// Prepend protocol
	if (!isRelativeUrl) {
		urlString = urlString.replace(/^(?!(?:\w+:)?\/\/)|^\/\//, options.defaultProtocol);
	}

	const urlObject = new URL(urlString);

	if (options.forceHttp && options.forceHttps) {
		throw new Error('The `forceHttp` and `forceHttps` options cannot be used together');
	}

	if (options.forceHttp && urlObject.protocol === 'https:') {
		urlObject.protocol = 'http:';
	}

	if (options.forceHttps && urlObject.protocol === 'http:') {
		urlObject.protocol = 'https:';
	}

	// Remove auth
	if (options.stripAuthentication) {
		urlObject.username = '';
		urlObject.password = '';
	}

	// Remove hash
	if (options.stripHash) {
		urlObject.hash = '';
	} else if (options.stripTextFragment) {
		urlObject.hash = urlObject.hash.replace(/#?:~:text.*?$/i, '');
	}

	// Remove duplicate slashes if not preceded by a protocol
	// NOTE: This could be implemented using a single negative lookbehind
	// regex, but we avoid that to maintain compatibility with older js engines
	// which do not have support for that feature.
	if (urlObject.pathname) {
		// TODO: Replace everything below with `urlObject.pathname = urlObject.pathname.replace(/(?<!\b[a-z][a-z\d+\-.]{1,50}:)\/{2,}/g, '/');` when Safari supports negative lookbehind.

		// Split the string by occurrences of this protocol regex, and perform
		// duplicate-slash replacement on the strings between those occurrences
		// (if any).
		const protocolRegex = /\b[a-z][a-z\d+\-.]{1,50}:\/\//g;

		let lastIndex = 0;
		let result = '';
		for (;;) {
			const match = protocolRegex.exec(urlObject.pathname);
			if (!match) {
				break;
			}

			const protocol = match[0];
			const protocolAtIndex = match.index;
			const intermediate = urlObject.pathname.slice(lastIndex, protocolAtIndex);

			result += intermediate.replace(/\/{2,}/g, '/');
			result += protocol;
			lastIndex = protocolAtIndex + protocol.length;
		}

		const remnant = urlObject.pathname.slice(lastIndex, urlObject.pathname.length);
		result += remnant.replace(/\/{2,}/g, '/');

		urlObject.pathname = result;
	}

	// Decode URI octets
	if (urlObject.pathname) {
		try {
			urlObject.pathname = decodeURI(urlObject.pathname).replace(/\\/g, '%5C');
		} catch {}
	}

	// Remove directory index
	if (options.removeDirectoryIndex === true) {
		options.removeDirectoryIndex = [/^index\.[a-z]+$/];
	}

	if (Array.isArray(options.removeDirectoryIndex) && options.removeDirectoryIndex.length > 0) {
		const pathComponents = urlObject.pathname.split('/').filter(Boolean);
		const lastComponent = pathComponents.at(-1);

		if (lastComponent && testParameter(lastComponent, options.removeDirectoryIndex)) {
			pathComponents.pop();
			urlObject.pathname = pathComponents.length > 0 ? `/${pathComponents.join('/')}/` : '/';
		}
	}

	// Remove path
	if (options.removePath) {
		urlObject.pathname = '/';
	}

	// Transform path components
	if (options.transformPath && typeof options.transformPath === 'function') {
		const pathComponents = urlObject.pathname.split('/').filter(Boolean);
		const newComponents = options.transformPath(pathComponents);
		urlObject.pathname = newComponents?.length > 0 ? `/${newComponents.join('/')}` : '/';
	}

	if (urlObject.hostname) {
		// Remove trailing dot
		urlObject.hostname = urlObject.hostname.replace(/\.$/, '');

		// Remove `www.`
		if (options.stripWWW && /^www\.(?!www\.)[a-z\-\d]{1,63}\.[a-z.\-\d]{2,63}$/.test(urlObject.hostname)) {
			// Each label should be max 63 at length (min: 1).
			// Source: https://en.wikipedia.org/wiki/Hostname#Restrictions_on_valid_host_names
			// Each TLD should be up to 63 characters long (min: 2).
			// It is technically possible to have a single character TLD, but none currently exist.
			urlObject.hostname = urlObject.hostname.replace(/^www\./, '');
		}
	}

	// Remove query unwanted parameters
	if (Array.isArray(options.removeQueryParameters)) {
		// eslint-disable-next-line unicorn/no-useless-spread -- We are intentionally spreading to get a copy.
		for (const key of [...urlObject.searchParams.keys()]) {
			if (testParameter(key, options.removeQueryParameters)) {
				urlObject.searchParams.delete(key);
			}
		}
	}

	if (!Array.isArray(options.keepQueryParameters) && options.removeQueryParameters === true) {
		urlObject.search = '';
	}

	// Keep wanted query parameters
	if (Array.isArray(options.keepQueryParameters) && options.keepQueryParameters.length > 0) {
		// eslint-disable-next-line unicorn/no-useless-spread -- We are intentionally spreading to get a copy.
		for (const key of [...urlObject.searchParams.keys()]) {
			if (!testParameter(key, options.keepQueryParameters)) {
				urlObject.searchParams.delete(key);
			}
		}
	}

	// Sort query parameters
	if (options.sortQueryParameters) {
		const originalSearch = urlObject.search;
		urlObject.searchParams.sort();

		// Calling `.sort()` encodes the search parameters, so we need to decode them again.
		try {
			urlObject.search = decodeURIComponent(urlObject.search);
		} catch {}

		// Fix parameters that originally had no equals sign but got one added by URLSearchParams
		const partsWithoutEquals = originalSearch.slice(1).split('&').filter(p => p && !p.includes('='));
		for (const part of partsWithoutEquals) {
			const decoded = decodeURIComponent(part);
			// Only replace at word boundaries to avoid partial matches
			urlObject.search = urlObject.search.replace(`?${decoded}=`, `?${decoded}`).replace(`&${decoded}=`, `&${decoded}`);
		}
	}

	if (options.removeTrailingSlash) {
		urlObject.pathname = urlObject.pathname.replace(/\/$/, '');
	}

	// Remove an explicit port number, excluding a default port number, if applicable
	if (options.removeExplicitPort && urlObject.port) {
		urlObject.port = '';
	}

	const oldUrlString = urlString;

	// Take advantage of many of the Node `url` normalizations
	urlString = urlObject.toString();

	if (!options.removeSingleSlash && urlObject.pathname === '/' && !oldUrlString.endsWith('/') && urlObject.hash === '') {
		urlString = urlString.replace(/\/$/, '');
	}

	// Remove ending `/` unless removeSingleSlash is false
	if ((options.removeTrailingSlash || urlObject.pathname === '/') && urlObject.hash === '' && options.removeSingleSlash) {
		urlString = urlString.replace(/\/$/, '');
	}

	// Restore relative protocol, if applicable
	if (hasRelativeProtocol && !options.normalizeProtocol) {
		urlString = urlString.replace(/^http:\/\//, '//');
	}

	// Remove http/https
	if (options.stripProtocol) {
		urlString = urlString.replace(/^(?:https?:)?\/\//, '');
	}

	return urlString;
}

;// CONCATENATED MODULE: ./node_modules/responselike/node_modules/lowercase-keys/index.js
function lowercaseKeys(object) {
	return Object.fromEntries(Object.entries(object).map(([key, value]) => [key.toLowerCase(), value]));
}

;// CONCATENATED MODULE: ./node_modules/responselike/index.js



class Response extends external_node_stream_.Readable {
	statusCode;
	headers;
	body;
	url;
	complete;

	constructor({statusCode, headers, body, url}) {
		if (typeof statusCode !== 'number') {
			throw new TypeError('Argument `statusCode` should be a number');
		}

		if (typeof headers !== 'object') {
			throw new TypeError('Argument `headers` should be an object');
		}

		if (!(body instanceof Uint8Array)) {
			throw new TypeError('Argument `body` should be a buffer');
		}

		if (typeof url !== 'string') {
			throw new TypeError('Argument `url` should be a string');
		}

		let bodyPushed = false;
		super({
			read() {
				// Push body on first read, end stream on second read.
				// This allows listeners to attach before data flows through pipes.
				if (!bodyPushed) {
					bodyPushed = true;
					this.push(body);
					return;
				}

				this.push(null);
			},
		});

		this.statusCode = statusCode;
		this.headers = lowercaseKeys(headers);
		this.body = body;
		this.url = url;
		this.complete = true;
	}
}

;// CONCATENATED MODULE: ./node_modules/cacheable-request/dist/types.js
// Type definitions for cacheable-request 6.0
// Project: https://github.com/lukechilds/cacheable-request#readme
// Definitions by: BendingBender <https://github.com/BendingBender>
//                 Paul Melnikow <https://github.com/paulmelnikow>
// Definitions: https://github.com/DefinitelyTyped/DefinitelyTyped
// TypeScript Version: 2.3
class types_RequestError extends Error {
    constructor(error) {
        super(error.message);
        Object.defineProperties(this, Object.getOwnPropertyDescriptors(error));
    }
}
class types_CacheError extends Error {
    constructor(error) {
        super(error.message);
        Object.defineProperties(this, Object.getOwnPropertyDescriptors(error));
    }
}
//# sourceMappingURL=types.js.map
;// CONCATENATED MODULE: ./node_modules/cacheable-request/dist/index.js
// biome-ignore-all lint/suspicious/noImplicitAnyLet: legacy format
// biome-ignore-all lint/suspicious/noExplicitAny: legacy format











class CacheableRequest {
    constructor(cacheRequest, cacheAdapter) {
        this.cache = new Keyv({ namespace: "cacheable-request" });
        this.hooks = new Map();
        this.request = () => (options, callback) => {
            let url;
            if (typeof options === "string") {
                url = normalizeUrlObject(parseWithWhatwg(options));
                options = {};
            }
            else if (options instanceof external_node_url_.URL) {
                url = normalizeUrlObject(parseWithWhatwg(options.toString()));
                options = {};
            }
            else {
                const [pathname, ...searchParts] = (options.path ?? "").split("?");
                const search = searchParts.length > 0 ? `?${searchParts.join("?")}` : "";
                url = normalizeUrlObject({ ...options, pathname, search });
            }
            options = {
                headers: {},
                method: "GET",
                cache: true,
                strictTtl: false,
                automaticFailover: false,
                ...options,
                ...urlObjectToRequestOptions(url),
            };
            options.headers = Object.fromEntries(entries(options.headers).map(([key, value]) => [
                key.toLowerCase(),
                value,
            ]));
            const ee = new external_node_events_();
            const normalizedUrlString = normalizeUrl(external_node_url_.format(url), {
                stripWWW: false,
                removeTrailingSlash: false,
                stripAuthentication: false,
            });
            let key = `${options.method}:${normalizedUrlString}`;
            // POST, PATCH, and PUT requests may be cached, depending on the response
            // cache-control headers. As a result, the body of the request should be
            // added to the cache key in order to avoid collisions.
            if (options.body &&
                options.method !== undefined &&
                ["POST", "PATCH", "PUT"].includes(options.method)) {
                if (options.body instanceof external_node_stream_.Readable) {
                    // Streamed bodies should completely skip the cache because they may
                    // or may not be hashable and in either case the stream would need to
                    // close before the cache key could be generated.
                    options.cache = false;
                }
                else {
                    key += `:${external_node_crypto_.createHash("md5").update(options.body).digest("hex")}`;
                }
            }
            let revalidate = false;
            let madeRequest = false;
            const makeRequest = (options_) => {
                madeRequest = true;
                let requestErrored = false;
                /* c8 ignore next 4 */
                let requestErrorCallback = () => {
                    /* do nothing */
                };
                const requestErrorPromise = new Promise((resolve) => {
                    requestErrorCallback = () => {
                        if (!requestErrored) {
                            requestErrored = true;
                            resolve();
                        }
                    };
                });
                const handler = async (response) => {
                    if (revalidate) {
                        response.status = response.statusCode;
                        const originalPolicy = http_cache_semantics.fromObject(revalidate.cachePolicy);
                        const revalidatedPolicy = originalPolicy.revalidatedPolicy(options_, response);
                        if (!revalidatedPolicy.modified) {
                            response.resume();
                            await new Promise((resolve) => {
                                // Skipping 'error' handler cause 'error' event should't be emitted for 304 response
                                response.once("end", resolve);
                            });
                            // Get headers from revalidated policy
                            const headers = convertHeaders(revalidatedPolicy.policy.responseHeaders());
                            // Preserve headers from the original cached response that may have been
                            // lost during revalidation (e.g., content-encoding, content-type, etc.)
                            // This works around a limitation in http-cache-semantics where some headers
                            // are not preserved when a 304 response has minimal headers
                            const originalHeaders = convertHeaders(originalPolicy.responseHeaders());
                            // Headers that should be preserved from the cached response
                            // according to RFC 7232 section 4.1
                            const preserveHeaders = [
                                "content-encoding",
                                "content-type",
                                "content-length",
                                "content-language",
                                "content-location",
                                "etag",
                            ];
                            for (const headerName of preserveHeaders) {
                                if (originalHeaders[headerName] !== undefined &&
                                    headers[headerName] === undefined) {
                                    headers[headerName] = originalHeaders[headerName];
                                }
                            }
                            response = new Response({
                                statusCode: revalidate.statusCode,
                                headers,
                                body: revalidate.body,
                                url: revalidate.url,
                            });
                            response.cachePolicy = revalidatedPolicy.policy;
                            response.fromCache = true;
                        }
                    }
                    if (!response.fromCache) {
                        response.cachePolicy = new http_cache_semantics(options_, response, options_);
                        response.fromCache = false;
                    }
                    let clonedResponse;
                    if (options_.cache && response.cachePolicy.storable()) {
                        clonedResponse = cloneResponse(response);
                        (async () => {
                            try {
                                const bodyPromise = getStreamAsBuffer(response);
                                await Promise.race([
                                    requestErrorPromise,
                                    new Promise((resolve) => response.once("end", resolve)),
                                    new Promise((resolve) => response.once("close", resolve)),
                                ]);
                                const body = await bodyPromise;
                                let value = {
                                    url: response.url,
                                    statusCode: response.fromCache
                                        ? revalidate.statusCode
                                        : response.statusCode,
                                    body,
                                    cachePolicy: response.cachePolicy.toObject(),
                                };
                                let ttl = options_.strictTtl
                                    ? response.cachePolicy.timeToLive()
                                    : undefined;
                                if (options_.maxTtl) {
                                    ttl = ttl ? Math.min(ttl, options_.maxTtl) : options_.maxTtl;
                                }
                                if (this.hooks.size > 0) {
                                    for (const key_ of this.hooks.keys()) {
                                        value = await this.runHook(key_, value, response);
                                    }
                                }
                                await this.cache.set(key, value, ttl);
                                /* c8 ignore next -- @preserve */
                            }
                            catch (error) {
                                /* c8 ignore next -- @preserve */
                                ee.emit("error", new types_CacheError(error));
                                /* c8 ignore next -- @preserve */
                            }
                        })();
                    }
                    else if (options_.cache && revalidate) {
                        (async () => {
                            try {
                                await this.cache.delete(key);
                                /* c8 ignore next -- @preserve */
                            }
                            catch (error) {
                                /* c8 ignore next -- @preserve */
                                ee.emit("error", new types_CacheError(error));
                                /* c8 ignore next -- @preserve */
                            }
                        })();
                    }
                    ee.emit("response", clonedResponse ?? response);
                    if (typeof callback === "function") {
                        callback(clonedResponse ?? response);
                    }
                };
                try {
                    const request_ = this.cacheRequest(options_, handler);
                    request_.once("error", requestErrorCallback);
                    request_.once("abort", requestErrorCallback);
                    request_.once("destroy", requestErrorCallback);
                    ee.emit("request", request_);
                }
                catch (error) {
                    ee.emit("error", new types_RequestError(error));
                }
            };
            (async () => {
                const get = async (options_) => {
                    await Promise.resolve();
                    const cacheEntry = options_.cache
                        ? await this.cache.get(key)
                        : undefined;
                    if (cacheEntry === undefined && !options_.forceRefresh) {
                        makeRequest(options_);
                        return;
                    }
                    const policy = http_cache_semantics.fromObject(cacheEntry.cachePolicy);
                    if (policy.satisfiesWithoutRevalidation(options_) &&
                        !options_.forceRefresh) {
                        const headers = convertHeaders(policy.responseHeaders());
                        const bodyBuffer = cacheEntry.body;
                        const body = Buffer.from(bodyBuffer);
                        const response = new Response({
                            statusCode: cacheEntry.statusCode,
                            headers,
                            body,
                            url: cacheEntry.url,
                        });
                        response.cachePolicy = policy;
                        response.fromCache = true;
                        ee.emit("response", response);
                        if (typeof callback === "function") {
                            callback(response);
                        }
                    }
                    else if (policy.satisfiesWithoutRevalidation(options_) &&
                        Date.now() >= policy.timeToLive() &&
                        options_.forceRefresh) {
                        await this.cache.delete(key);
                        options_.headers = policy.revalidationHeaders(options_);
                        makeRequest(options_);
                    }
                    else {
                        revalidate = cacheEntry;
                        options_.headers = policy.revalidationHeaders(options_);
                        makeRequest(options_);
                    }
                };
                const errorHandler = (error) => ee.emit("error", new types_CacheError(error));
                if (this.cache instanceof Keyv) {
                    const cachek = this.cache;
                    cachek.once("error", errorHandler);
                    ee.on("error", () => {
                        cachek.removeListener("error", errorHandler);
                    });
                    ee.on("response", () => {
                        cachek.removeListener("error", errorHandler);
                    });
                }
                try {
                    await get(options);
                }
                catch (error) {
                    /* v8 ignore next -- @preserve */
                    if (options.automaticFailover && !madeRequest) {
                        makeRequest(options);
                    }
                    ee.emit("error", new types_CacheError(error));
                }
            })();
            return ee;
        };
        this.addHook = (name, function_) => {
            if (!this.hooks.has(name)) {
                this.hooks.set(name, function_);
            }
        };
        this.removeHook = (name) => this.hooks.delete(name);
        this.getHook = (name) => this.hooks.get(name);
        this.runHook = async (name, ...arguments_) => this.hooks.get(name)?.(...arguments_);
        if (cacheAdapter) {
            if (cacheAdapter instanceof Keyv) {
                this.cache = cacheAdapter;
            }
            else {
                this.cache = new Keyv({
                    store: cacheAdapter,
                    namespace: "cacheable-request",
                });
            }
        }
        this.request = this.request.bind(this);
        this.cacheRequest = cacheRequest;
    }
}
const entries = Object.entries;
const cloneResponse = (response) => {
    const clone = new external_node_stream_.PassThrough({ autoDestroy: false });
    mimicResponse(response, clone);
    return response.pipe(clone);
};
const urlObjectToRequestOptions = (url) => {
    const options = { ...url };
    options.path = `${url.pathname || "/"}${url.search || ""}`;
    delete options.pathname;
    delete options.search;
    return options;
};
const normalizeUrlObject = (url) => 
// If url was parsed by url.parse or new URL:
// - hostname will be set
// - host will be hostname[:port]
// - port will be set if it was explicit in the parsed string
// Otherwise, url was from request options:
// - hostname or host may be set
// - host shall not have port encoded
({
    protocol: url.protocol,
    auth: url.auth,
    hostname: url.hostname || url.host || "localhost",
    port: url.port,
    pathname: url.pathname,
    search: url.search,
});
const convertHeaders = (headers) => {
    const result = [];
    for (const name of Object.keys(headers)) {
        result[name.toLowerCase()] = headers[name];
    }
    return result;
};
const parseWithWhatwg = (raw) => {
    const u = new external_node_url_.URL(raw);
    // If normalizeUrlObject expects the same fields as url.parse()
    return {
        protocol: u.protocol, // E.g. 'https:'
        slashes: true, // Always true for WHATWG URLs
        /* c8 ignore next 3 */
        auth: u.username || u.password ? `${u.username}:${u.password}` : undefined,
        host: u.host, // E.g. 'example.com:8080'
        port: u.port, // E.g. '8080'
        hostname: u.hostname, // E.g. 'example.com'
        hash: u.hash, // E.g. '#quux'
        search: u.search, // E.g. '?bar=baz'
        query: Object.fromEntries(u.searchParams), // { bar: 'baz' }
        pathname: u.pathname, // E.g. '/foo'
        path: u.pathname + u.search, // '/foo?bar=baz'
        href: u.href, // Full serialized URL
    };
};
/* harmony default export */ const dist = (CacheableRequest);

const onResponse = "onResponse";
//# sourceMappingURL=index.js.map
// EXTERNAL MODULE: external "node:util"
var external_node_util_ = __nccwpck_require__(7975);
;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/utils/timer.js


const getInitialConnectionTimings = (socket) => Reflect.get(socket, '__initial_connection_timings__');
const setInitialConnectionTimings = (socket, timings) => {
    Reflect.set(socket, '__initial_connection_timings__', timings);
};
const timer = (request) => {
    if (request.timings) {
        return request.timings;
    }
    const timings = {
        start: Date.now(),
        socket: undefined,
        lookup: undefined,
        connect: undefined,
        secureConnect: undefined,
        upload: undefined,
        response: undefined,
        end: undefined,
        error: undefined,
        abort: undefined,
        phases: {
            wait: undefined,
            dns: undefined,
            tcp: undefined,
            tls: undefined,
            request: undefined,
            firstByte: undefined,
            download: undefined,
            total: undefined,
        },
    };
    request.timings = timings;
    const handleError = (origin) => {
        origin.once(external_node_events_.errorMonitor, () => {
            timings.error = Date.now();
            timings.phases.total = timings.error - timings.start;
        });
    };
    handleError(request);
    const onAbort = () => {
        timings.abort = Date.now();
        timings.phases.total = timings.abort - timings.start;
    };
    request.prependOnceListener('abort', onAbort);
    const onSocket = (socket) => {
        timings.socket = Date.now();
        timings.phases.wait = timings.socket - timings.start;
        if (external_node_util_.types.isProxy(socket)) {
            // HTTP/2: The socket is a proxy, so connection events won't fire.
            // We can't measure connection timings, so leave them undefined.
            // This prevents NaN in phases.request calculation.
            return;
        }
        // Check if socket is already connected (reused from connection pool)
        const socketAlreadyConnected = socket.writable && !socket.connecting;
        if (socketAlreadyConnected) {
            // Socket reuse detected: the socket was already connected from a previous request.
            // For reused sockets, set all connection timestamps to socket time since no new
            // connection was made for THIS request. But preserve phase durations from the
            // original connection so they're not lost.
            timings.lookup = timings.socket;
            timings.connect = timings.socket;
            const initialConnectionTimings = getInitialConnectionTimings(socket);
            if (initialConnectionTimings) {
                // Restore the phase timings from the initial connection
                timings.phases.dns = initialConnectionTimings.dnsPhase;
                timings.phases.tcp = initialConnectionTimings.tcpPhase;
                timings.phases.tls = initialConnectionTimings.tlsPhase;
                // Set secureConnect timestamp if there was TLS
                if (timings.phases.tls !== undefined) {
                    timings.secureConnect = timings.socket;
                }
            }
            else {
                // Socket reused but no initial timings stored (e.g., from external code)
                // Set phases to 0
                timings.phases.dns = 0;
                timings.phases.tcp = 0;
            }
            return;
        }
        const lookupListener = () => {
            timings.lookup = Date.now();
            timings.phases.dns = timings.lookup - timings.socket;
        };
        socket.prependOnceListener('lookup', lookupListener);
        if (!socket.connecting) {
            return;
        }
        const onSecureConnect = () => {
            timings.secureConnect = Date.now();
            timings.phases.tls = timings.secureConnect - timings.connect;
            // Update stored timings with TLS phase timing
            const initialConnectionTimings = getInitialConnectionTimings(socket);
            if (initialConnectionTimings) {
                initialConnectionTimings.tlsPhase = timings.phases.tls;
            }
        };
        socket.once('connect', () => {
            timings.connect = Date.now();
            if (timings.lookup === undefined) {
                // No DNS lookup occurred (e.g., connecting to an IP address directly)
                // Set lookup to socket time (no time elapsed for DNS)
                socket.removeListener('lookup', lookupListener);
                timings.lookup = timings.socket;
                timings.phases.dns = 0;
            }
            timings.phases.tcp = timings.connect - timings.lookup;
            // If lookup and connect happen at the EXACT same time (tcp = 0),
            // DNS was served from cache and the dns value is just event loop overhead.
            // Set dns to 0 to indicate no actual DNS resolution occurred.
            // Fixes https://github.com/szmarczak/http-timer/issues/35
            if (timings.phases.tcp === 0 && timings.phases.dns && timings.phases.dns > 0) {
                timings.phases.dns = 0;
            }
            // Store connection phase timings on socket for potential reuse
            if (!getInitialConnectionTimings(socket)) {
                setInitialConnectionTimings(socket, {
                    dnsPhase: timings.phases.dns,
                    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- TypeScript can't prove this is defined due to callback structure
                    tcpPhase: timings.phases.tcp,
                });
            }
            if ('encrypted' in socket) {
                if (socket.authorized) {
                    onSecureConnect();
                }
                else {
                    // Wait for secureConnect event (even if authorization fails, we need the timing)
                    socket.once('secureConnect', onSecureConnect);
                }
            }
        });
    };
    if (request.socket) {
        onSocket(request.socket);
    }
    else {
        request.prependOnceListener('socket', onSocket);
    }
    const onUpload = () => {
        timings.upload = Date.now();
        // Calculate request phase if we have connection timings
        const secureOrConnect = timings.secureConnect ?? timings.connect;
        if (secureOrConnect !== undefined) {
            timings.phases.request = timings.upload - secureOrConnect;
        }
        // If both are undefined (HTTP/2), phases.request stays undefined (not NaN)
    };
    if (request.writableFinished) {
        onUpload();
    }
    else {
        request.prependOnceListener('finish', onUpload);
    }
    request.prependOnceListener('response', (response) => {
        timings.response = Date.now();
        // The server may respond before the upload finishes, for example to reject a large body early. There is no first byte phase to measure then.
        if (timings.upload !== undefined) {
            timings.phases.firstByte = timings.response - timings.upload;
        }
        response.timings = timings;
        handleError(response);
        response.prependOnceListener('end', () => {
            request.off('abort', onAbort);
            response.off('aborted', onAbort);
            if (timings.phases.total !== undefined) {
                // Aborted or errored
                return;
            }
            timings.end = Date.now();
            timings.phases.download = timings.end - timings.response;
            timings.phases.total = timings.end - timings.start;
        });
        response.prependOnceListener('aborted', onAbort);
    });
    return timings;
};
/* harmony default export */ const utils_timer = (timer);

// EXTERNAL MODULE: external "node:zlib"
var external_node_zlib_ = __nccwpck_require__(8522);
;// CONCATENATED MODULE: ./node_modules/decompress-response/index.js




// Detect zstd support (available in Node.js >= 22.15.0)
const supportsZstd = typeof external_node_zlib_.createZstdDecompress === 'function';

function decompressResponse(response) {
	const contentEncoding = (response.headers['content-encoding'] || '').toLowerCase();
	const supportedEncodings = ['gzip', 'deflate', 'br'];
	if (supportsZstd) {
		supportedEncodings.push('zstd');
	}

	if (!supportedEncodings.includes(contentEncoding)) {
		return response;
	}

	let isEmpty = true;

	// Clone headers to avoid modifying the original response headers
	const headers = {...response.headers};

	const finalStream = new external_node_stream_.PassThrough({
		autoDestroy: false,
	});

	// Only destroy response on error, not on normal completion
	finalStream.once('error', () => {
		response.destroy();
	});

	function handleContentEncoding(data) {
		let decompressStream;

		if (contentEncoding === 'zstd') {
			decompressStream = external_node_zlib_.createZstdDecompress();
		} else if (contentEncoding === 'br') {
			decompressStream = external_node_zlib_.createBrotliDecompress();
		} else if (contentEncoding === 'deflate' && data.length > 0 && (data[0] & 0x08) === 0) { // eslint-disable-line no-bitwise
			decompressStream = external_node_zlib_.createInflateRaw();
		} else {
			decompressStream = external_node_zlib_.createUnzip();
		}

		decompressStream.once('error', error => {
			if (isEmpty && !response.readable) {
				finalStream.end();
				return;
			}

			finalStream.destroy(error);
		});

		checker.pipe(decompressStream).pipe(finalStream);
	}

	const checker = new external_node_stream_.Transform({
		transform(data, _encoding, callback) {
			if (isEmpty === false) {
				callback(null, data);
				return;
			}

			isEmpty = false;

			handleContentEncoding(data);

			callback(null, data);
		},

		flush(callback) {
			if (isEmpty) {
				finalStream.end();
			}

			callback();
		},
	});

	delete headers['content-encoding'];
	delete headers['content-length'];
	finalStream.headers = headers;

	mimicResponse(response, finalStream);

	response.pipe(checker);

	return finalStream;
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/utils/decompress-response.js


const supportedEncodings = new Set(['gzip', 'deflate', 'br', ...(typeof external_node_zlib_.createZstdDecompress === 'function' ? ['zstd'] : [])]);
function decompressResponseBody(response) {
    const encodings = (response.headers['content-encoding'] ?? '')
        .toLowerCase()
        .split(',')
        .map(encoding => encoding.trim())
        // Empty list members are ignored (RFC 9110, section 5.6.1.1).
        .filter(encoding => encoding.length > 0)
        // `identity` means the content was not transformed, so it adds no decoding step.
        .filter(encoding => encoding !== 'identity')
        .map(encoding => encoding === 'x-gzip' ? 'gzip' : encoding);
    if (encodings.some(encoding => !supportedEncodings.has(encoding))) {
        return decompressResponse(response);
    }
    const nativeResponse = response;
    // Content-Encoding lists codings in application order (RFC 9110, section 8.4).
    for (const encoding of encodings.toReversed()) {
        const source = response;
        const originalHeaders = source.headers;
        try {
            // The dependency accepts one coding. Retain the native headers for wire-byte validation.
            source.headers = { ...originalHeaders, 'content-encoding': encoding };
            response = decompressResponse(source);
        }
        finally {
            source.headers = originalHeaders;
        }
        if (source === nativeResponse) {
            continue;
        }
        const decoded = response;
        source.once('error', error => {
            decoded.destroy(error);
        });
    }
    return response;
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/utils/get-body-size.js


function getBodySize(body, headers) {
    if (headers && 'content-length' in headers && headers['content-length'] !== undefined) {
        return Number(headers['content-length']);
    }
    if (!body) {
        return 0;
    }
    if (distribution.string(body)) {
        return stringToUint8Array(body).byteLength;
    }
    return ArrayBuffer.isView(body) ? body.byteLength : undefined;
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/utils/is-non-replayable-body.js

// A body is replayable only if iterating it again restarts from the beginning.
// Node streams, Web `ReadableStream`s, and iterator objects are consumed by an upload, so they cannot be replayed on a redirect or retry.
function isNonReplayableBody(body) {
    // Creating an iterator can open resources or throw. Only create it when actually sending the body.
    return distribution.nodeStream(body)
        || body instanceof ReadableStream
        || (distribution.object(body) && distribution.function(body.next));
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/utils/proxy-events.js
function proxyEvents(from, to, events) {
    const eventFunctions = new Map();
    for (const event of events) {
        const eventFunction = (...arguments_) => {
            to.emit(event, ...arguments_);
        };
        eventFunctions.set(event, eventFunction);
        from.on(event, eventFunction);
    }
    return () => {
        for (const [event, eventFunction] of eventFunctions) {
            from.off(event, eventFunction);
        }
    };
}

// EXTERNAL MODULE: external "node:net"
var external_node_net_ = __nccwpck_require__(7030);
;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/timed-out.js

const reentry = Symbol('reentry');
const timed_out_noop = () => { };
class timed_out_TimeoutError extends Error {
    name = 'TimeoutError';
    code = 'ETIMEDOUT';
    event;
    constructor(threshold, event) {
        super(`Timeout awaiting '${event}' for ${threshold}ms`);
        this.event = event;
    }
}
// Node.js turns timer delays above the 32-bit limit (including `Infinity`) into 1 ms with a
// warning, so such a delay means "no timeout" instead of an instant timeout.
const maximumTimerDelay = 2_147_483_647;
/**
Whether a delay can be armed as a Node.js timer without collapsing into an instant timeout.
*/
const isArmableTimerDelay = (delay) => delay <= maximumTimerDelay && Number.isFinite(delay);
function timedOut(request, delays, options) {
    // `reentry` is a symbol, so it cannot collide with a header name, and the request object is
    // itself the marker. Rewriting either line as an `Object.hasOwn` call would check something else.
    // eslint-disable-next-line unicorn/no-computed-property-existence-check
    if (reentry in request) {
        return timed_out_noop;
    }
    request[reentry] = true;
    const cancelers = [];
    const handled = new Set();
    // When attaching listeners, it's very easy to forget about them.
    // Especially if you do error handling and set timeouts.
    // So instead of checking if it's proper to throw an error on every timeout ever,
    // track every listener attached through `once` below, so `cancelTimeouts` can remove all of them.
    const listeners = [];
    const once = (origin, event, listener) => {
        origin.once(event, listener);
        listeners.push({ origin, event, listener });
    };
    const addTimeout = (delay, event) => {
        if (!isArmableTimerDelay(delay)) {
            return timed_out_noop;
        }
        const timeout = setTimeout(timeoutHandler, delay, delay, event);
        timeout.unref();
        const cancel = () => {
            handled.add(event);
            clearTimeout(timeout);
        };
        cancelers.push(cancel);
        return cancel;
    };
    const { host, hostname } = options;
    const timeoutHandler = (delay, event) => {
        // Use setTimeout to allow for any cancelled events to be handled first,
        // to prevent firing any TimeoutError unneeded when the event loop is busy or blocked
        setTimeout(() => {
            if (!handled.has(event)) {
                request.destroy(new timed_out_TimeoutError(delay, event));
            }
        }, 0);
    };
    const cancelTimeouts = () => {
        for (const cancel of cancelers) {
            cancel();
        }
        for (const { origin, event, listener } of listeners) {
            origin.removeListener(event, listener);
        }
        listeners.length = 0;
    };
    request.once('error', error => {
        cancelTimeouts();
        // Save original behavior
        /* istanbul ignore next */
        if (request.listenerCount('error') === 0) {
            throw error;
        }
    });
    if (delays.socket !== undefined && isArmableTimerDelay(delays.socket)) {
        const { socket } = delays;
        const socketTimeoutHandler = () => {
            timeoutHandler(socket, 'socket');
        };
        request.setTimeout(socket, socketTimeoutHandler);
        // `request.setTimeout(0)` causes a memory leak.
        // We can just remove the listener and forget about the timer - it's unreffed.
        // See https://github.com/sindresorhus/got/issues/690
        cancelers.push(() => {
            handled.add('socket');
            request.removeListener('timeout', socketTimeoutHandler);
        });
    }
    const hasLookup = delays.lookup !== undefined;
    const hasConnect = delays.connect !== undefined;
    const hasSecureConnect = delays.secureConnect !== undefined;
    const hasSend = delays.send !== undefined;
    if (hasLookup || hasConnect || hasSecureConnect || hasSend) {
        const onSocket = (socket) => {
            const { socketPath } = request;
            /* istanbul ignore next: hard to test */
            if (socket.connecting) {
                // WHATWG URL hostnames keep IPv6 brackets, which `net.isIP` rejects. Strip them so IPv6 URLs skip DNS correctly.
                const normalizedHostname = hostname?.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
                const hasPath = Boolean(socketPath ?? (external_node_net_.isIP(normalizedHostname ?? host ?? '') !== 0));
                // A synchronous lookup can finish before the socket is assigned to the request.
                const hasLookupCompleted = socket.address().address !== undefined;
                if (hasLookup && !hasPath && !hasLookupCompleted) {
                    const cancelTimeout = addTimeout(delays.lookup, 'lookup');
                    once(socket, 'lookup', cancelTimeout);
                }
                if (hasConnect) {
                    const timeConnect = () => addTimeout(delays.connect, 'connect');
                    if (hasPath || hasLookupCompleted) {
                        once(socket, 'connect', timeConnect());
                    }
                    else {
                        once(socket, 'lookup', (error) => {
                            if (error === null) {
                                once(socket, 'connect', timeConnect());
                            }
                        });
                    }
                }
                if (hasSecureConnect && options.protocol === 'https:') {
                    once(socket, 'connect', () => {
                        const cancelTimeout = addTimeout(delays.secureConnect, 'secureConnect');
                        once(socket, 'secureConnect', cancelTimeout);
                    });
                }
            }
            if (hasSend) {
                const timeRequest = () => addTimeout(delays.send, 'send');
                /* istanbul ignore next: hard to test */
                if (socket.connecting) {
                    once(socket, 'connect', () => {
                        once(request, 'upload-complete', timeRequest());
                    });
                }
                else {
                    once(request, 'upload-complete', timeRequest());
                }
            }
        };
        if (request.socket) {
            onSocket(request.socket);
        }
        else {
            once(request, 'socket', onSocket);
        }
    }
    if (delays.response !== undefined) {
        let cancelTimeout = timed_out_noop;
        const startTimeout = () => {
            cancelTimeout = addTimeout(delays.response, 'response');
        };
        once(request, 'upload-complete', startTimeout);
        once(request, 'response', () => {
            // A server can respond before the upload finishes.
            request.removeListener('upload-complete', startTimeout);
            cancelTimeout();
        });
    }
    if (delays.read !== undefined) {
        once(request, 'response', (response) => {
            const cancelTimeout = addTimeout(delays.read, 'read');
            once(response, 'end', cancelTimeout);
        });
    }
    return cancelTimeouts;
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/utils/weakable-map.js
class WeakableMap {
    weakMap = new WeakMap();
    map = new Map();
    set(key, value) {
        if (typeof key === 'object') {
            this.weakMap.set(key, value);
        }
        else {
            this.map.set(key, value);
        }
    }
    get(key) {
        return typeof key === 'object' ? this.weakMap.get(key) : this.map.get(key);
    }
    has(key) {
        return typeof key === 'object' ? this.weakMap.has(key) : this.map.has(key);
    }
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/calculate-retry-delay.js
const calculateRetryDelay = ({ attemptCount, retryOptions, error, retryAfter, computedValue, }) => {
    if (error.name === 'RetryError') {
        return 1;
    }
    if (attemptCount > retryOptions.limit) {
        return 0;
    }
    const hasMethod = retryOptions.methods.includes(error.options.method);
    const hasErrorCode = retryOptions.errorCodes.includes(error.code);
    const hasStatusCode = error.response && retryOptions.statusCodes.includes(error.response.statusCode);
    if (!hasMethod || (!hasErrorCode && !hasStatusCode)) {
        return 0;
    }
    if (error.response) {
        if (retryAfter !== undefined) {
            // In this case `computedValue` is `retryOptions.maxRetryAfter ?? options.timeout.request ?? Infinity`
            // Compare the server delay before applying the minimum nonzero retry timer.
            return retryAfter > computedValue ? 0 : Math.max(1, retryAfter);
        }
        if (error.response.statusCode === 413) {
            return 0;
        }
    }
    const noise = Math.random() * retryOptions.noise;
    // Zero disables retries, so represent an immediate retry with the minimum timer delay.
    return Math.max(1, Math.min(((2 ** (attemptCount - 1)) * 1000), retryOptions.backoffLimit) + noise);
};
/* harmony default export */ const calculate_retry_delay = (calculateRetryDelay);

// EXTERNAL MODULE: external "node:tls"
var external_node_tls_ = __nccwpck_require__(1692);
;// CONCATENATED MODULE: external "node:https"
const external_node_https_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:https");
;// CONCATENATED MODULE: ./node_modules/lowercase-keys/index.js
function lowercase_keys_lowercaseKeys(object, {onConflict} = {}) {
	if (typeof object !== 'object' || object === null) {
		throw new TypeError(`Expected an object, got ${object === null ? 'null' : typeof object}`);
	}

	const result = {};

	for (const [key, value] of Object.entries(object)) {
		const lowercasedKey = key.toLowerCase();
		const hasExistingKey = Object.hasOwn(result, lowercasedKey);
		const existingValue = hasExistingKey ? result[lowercasedKey] : undefined;

		const resolvedValue = onConflict && hasExistingKey
			? onConflict({key: lowercasedKey, newValue: value, existingValue})
			: value;

		Object.defineProperty(result, lowercasedKey, {
			value: resolvedValue,
			writable: true,
			enumerable: true,
			configurable: true,
		});
	}

	return result;
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/parse-link-header.js
const splitHeaderValue = (value, separator) => {
    const values = [];
    let current = '';
    let inQuotes = false;
    let inReference = false;
    let isEscaped = false;
    for (const character of value) {
        if (inQuotes) {
            if (isEscaped) {
                isEscaped = false;
            }
            else if (character === '\\') {
                isEscaped = true;
            }
            else if (character === '"') {
                inQuotes = false;
            }
        }
        else if (character === '"') {
            inQuotes = true;
        }
        else if (character === '<' || character === '>') {
            inReference = character === '<';
        }
        else if (!inReference && character === separator) {
            // Link headers use both quoted strings and <URI-reference> values, so raw
            // splitting on `,` / `;` would break valid values containing those characters.
            values.push(current);
            current = '';
            continue;
        }
        current += character;
    }
    if (inQuotes) {
        throw new Error(`Failed to parse Link header: ${value}`);
    }
    values.push(current);
    return values;
};
function parseLinkHeader(link) {
    const parsed = [];
    for (const item of splitHeaderValue(link, ',')) {
        // HTTP list recipients ignore empty members (RFC 9110, section 5.6.1.2).
        if (item.trim() === '') {
            continue;
        }
        // https://tools.ietf.org/html/rfc5988#section-5
        const [rawUriReference, ...rawLinkParameters] = splitHeaderValue(item, ';');
        const trimmedUriReference = rawUriReference.trim();
        // eslint-disable-next-line @typescript-eslint/prefer-string-starts-ends-with
        if (trimmedUriReference[0] !== '<' || trimmedUriReference.at(-1) !== '>') {
            throw new Error(`Invalid format of the Link header reference: ${trimmedUriReference}`);
        }
        // Optional whitespace is allowed inside the angle brackets (RFC 8288, section 3).
        const reference = trimmedUriReference.slice(1, -1).trim();
        if (reference.includes('<') || reference.includes('>')) {
            throw new Error(`Invalid format of the Link header reference: ${trimmedUriReference}`);
        }
        // Parameter names can match `Object.prototype` properties, so use a null-prototype object.
        const parameters = Object.create(null);
        for (const rawParameter of rawLinkParameters) {
            const trimmedRawParameter = rawParameter.trim();
            const center = trimmedRawParameter.indexOf('=');
            // The parameter value is optional. See https://www.rfc-editor.org/rfc/rfc8288#section-3
            const name = center === -1 ? trimmedRawParameter : trimmedRawParameter.slice(0, center).trim();
            if (name === '') {
                throw new Error(`Failed to parse Link header: ${link}`);
            }
            const value = center === -1 ? '' : trimmedRawParameter.slice(center + 1).trim();
            const normalizedName = name.toLowerCase();
            if (!Object.hasOwn(parameters, normalizedName)) {
                parameters[normalizedName] = value;
            }
        }
        parsed.push({
            reference,
            parameters,
        });
    }
    return parsed;
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/response.js



const decodedBodyCache = new WeakMap();
const redirectDecisions = new WeakMap();
// TextDecoder strips a leading byte order mark, which Buffer#toString keeps.
const bomStrippingDecoders = new Map([
    ['utf8', new TextDecoder()],
    ['utf16le', new TextDecoder('utf-16le')],
]);
const normalizeEncoding = (encoding) => (encoding ?? 'utf8').toLowerCase().replace('-', '').replace('ucs2', 'utf16le');
const isUtf8Encoding = (encoding) => normalizeEncoding(encoding) === 'utf8';
const decodeUint8Array = (data, encoding) => bomStrippingDecoders.get(normalizeEncoding(encoding))?.decode(data) ?? external_node_buffer_.Buffer.from(data).toString(encoding);
const isResponseOk = (response) => {
    const { statusCode } = response;
    if ((statusCode >= 200 && statusCode <= 299) || statusCode === 304) {
        return true;
    }
    if (statusCode < 300 || statusCode > 399) {
        return false;
    }
    const { followRedirect } = response.request.options;
    if (typeof followRedirect !== 'function') {
        return !followRedirect;
    }
    let decision = redirectDecisions.get(response);
    if (decision?.predicate !== followRedirect) {
        decision = { predicate: followRedirect, follow: followRedirect(response) };
        redirectDecisions.set(response, decision);
    }
    return !decision.follow;
};
/**
Shares the redirect decision when a response stream is wrapped for decompression.
*/
const copyRedirectDecision = (source, destination) => {
    const decision = redirectDecisions.get(source);
    if (decision !== undefined) {
        redirectDecisions.set(destination, decision);
    }
};
/**
An error to be thrown when server response code is 2xx, and parsing body fails.
Includes a `response` property.
*/
class ParseError extends RequestError {
    name = 'ParseError';
    code = 'ERR_BODY_PARSE_FAILURE';
    constructor(error, response) {
        const { options } = response.request;
        // The thrown value is kept as the cause, so only its message is normalized.
        super(`${normalizeError(error).message} in "${stripUrlAuth(options.url)}"`, error, response.request, response);
    }
}
const cacheDecodedBody = (response, decodedBody) => {
    decodedBodyCache.set(response, decodedBody);
};
const parseBody = (response, responseType, parseJson, encoding) => {
    const { rawBody } = response;
    const cachedDecodedBody = decodedBodyCache.get(response);
    // Shortcuts must read the current bytes because callers can mutate `rawBody`.
    decodedBodyCache.delete(response);
    try {
        if (responseType === 'text') {
            return cachedDecodedBody ?? decodeUint8Array(rawBody, encoding);
        }
        if (responseType === 'json') {
            if (rawBody.length === 0) {
                return '';
            }
            const text = cachedDecodedBody ?? decodeUint8Array(rawBody, encoding);
            return parseJson(text);
        }
        if (responseType === 'buffer') {
            return rawBody;
        }
    }
    catch (error) {
        // `ParseError` normalizes the message and keeps the thrown value as the cause.
        throw new ParseError(error, response);
    }
    throw new ParseError({
        message: `Unknown body type '${responseType}'`,
        name: 'Error',
    }, response);
};

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/utils/is-unix-socket-url.js
function isUnixSocketUrl(url) {
    return url.protocol === 'unix:' || url.hostname === 'unix';
}
/**
Extract the socket path from a UNIX socket URL.

@example
```
getUnixSocketPath(new URL('http://unix/foo:/path'));
//=> '/foo'

getUnixSocketPath(new URL('unix:/foo:/path'));
//=> '/foo'

getUnixSocketPath(new URL('http://example.com'));
//=> undefined
```
*/
function getUnixSocketPath(url) {
    return isUnixSocketUrl(url) ? /^(?<socketPath>[^:]+):/v.exec(`${url.pathname}${url.search}`)?.groups?.socketPath : undefined;
}

// EXTERNAL MODULE: external "node:dns"
var external_node_dns_ = __nccwpck_require__(610);
;// CONCATENATED MODULE: external "node:os"
const external_node_os_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:os");
;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/utils/dns-cache.js




const ttl = { ttl: true };
const noResultErrorCodes = new Set(['ENODATA', 'ENOTFOUND', 'ENOENT']);
const maximumCacheTtl = Math.floor(2_147_483_647 / 1000);
const isPromiseLike = (value) => typeof value?.then === 'function';
const now = () => Date.now();
const hasUnexpired = (cache, key) => {
    const expires = cache.get(key);
    if (expires === undefined) {
        return false;
    }
    if (expires <= now()) {
        cache.delete(key);
        return false;
    }
    return true;
};
const deleteExpiredMapEntries = (cache, time = now()) => {
    for (const [key, expires] of cache) {
        if (expires <= time) {
            cache.delete(key);
        }
    }
};
// eslint-disable-next-line no-bitwise
const hasFlag = (value, flag) => value !== undefined && (value & flag) === flag;
const getConfiguredFamilies = () => {
    const families = new Set();
    for (const networkInterface of Object.values(external_node_os_namespaceObject.networkInterfaces())) {
        for (const address of networkInterface ?? []) {
            if (!address.internal) {
                families.add(address.family === 'IPv6' ? 6 : 4);
            }
        }
    }
    return families;
};
const createNoResultError = (hostname) => {
    const error = new Error(`DNS cache lookup ENOTFOUND ${hostname}`);
    error.code = 'ENOTFOUND';
    error.hostname = hostname;
    return error;
};
// Caller mutations must not change an in-flight lookup or its callback shape.
const normalizeLookupOptions = (options) => typeof options === 'number' ? { family: options } : { ...options };
const normalizeResolverRecord = (record, family, maxTtl) => {
    // A record without a usable TTL must expire immediately. A `NaN` expiry would never
    // elapse, which caches the address forever.
    const recordTtl = record.ttl;
    const entryTtl = Number.isFinite(recordTtl) ? Math.min(recordTtl, maxTtl) : 0;
    return {
        address: record.address,
        family,
        expires: now() + (entryTtl * 1000),
    };
};
const map4To6 = (entries) => entries.map(entry => {
    if (entry.family === 6) {
        return entry;
    }
    return {
        ...entry,
        address: `::ffff:${entry.address}`,
        family: 6,
    };
});
const familyFromOptions = (options) => {
    if (options.family === 4 || options.family === 6) {
        return options.family;
    }
    if (options.family === 'IPv4') {
        return 4;
    }
    return options.family === 'IPv6' ? 6 : undefined;
};
const orderFromOptions = (options) => {
    if (options.order !== undefined) {
        return options.order;
    }
    if (options.verbatim !== undefined) {
        return options.verbatim ? 'verbatim' : 'ipv4first';
    }
    return (0,external_node_dns_.getDefaultResultOrder)();
};
const familiesFromOptions = (options) => {
    const family = familyFromOptions(options);
    if (family === 6 && hasFlag(options.hints, external_node_dns_.V4MAPPED) && hasFlag(options.hints, external_node_dns_.ALL)) {
        return [6, 4];
    }
    if (family !== undefined) {
        return [family];
    }
    return orderFromOptions(options) === 'ipv6first' ? [6, 4] : [4, 6];
};
const filterFamiliesByAddrConfig = (families, options) => {
    if (!hasFlag(options.hints, external_node_dns_.ADDRCONFIG)) {
        return families;
    }
    const configuredFamilies = getConfiguredFamilies();
    return families.filter(family => configuredFamilies.has(family));
};
const shouldQueryMappedIpv4 = (entries, options) => familyFromOptions(options) === 6
    && hasFlag(options.hints, external_node_dns_.V4MAPPED)
    && !hasFlag(options.hints, external_node_dns_.ALL)
    && entries.every(entry => entry.family !== 6);
const cacheKey = (hostname, family) => `${hostname}:${family}`;
const lookupOptionsKey = (hostname, options) => `${hostname}:${familyFromOptions(options) ?? 0}:${options.hints ?? 0}:${orderFromOptions(options)}`;
const shouldIgnoreResolveError = (error) => error.code !== undefined && noResultErrorCodes.has(error.code);
const toLookupResult = ({ address, family }) => ({
    address,
    family,
});
class DnsCache {
    lookup;
    #cache;
    #resolver;
    #dnsLookupAsync;
    #cacheKeys = new Set();
    #pending = new Map();
    #pendingFallback = new Map();
    #lookupOptionsToFallback = new Map();
    #lookupOptionsWithoutFallback = new Map();
    #maxTtl;
    #fallbackDuration;
    #errorTtl;
    #minimumVersionByHostname = new Map();
    #activeQueriesByHostname = new Map();
    #minimumVersion = 0;
    #clearVersion = 0;
    constructor({ cache = new Map(), maxTtl = maximumCacheTtl, fallbackDuration = 3600, errorTtl = 0.15, resolver = new external_node_dns_.promises.Resolver(), lookup = external_node_dns_.lookup, } = {}) {
        this.#cache = cache;
        this.#resolver = resolver;
        this.#maxTtl = Math.min(maxTtl, maximumCacheTtl);
        this.#fallbackDuration = fallbackDuration;
        this.#errorTtl = errorTtl;
        this.#dnsLookupAsync = lookup === false ? undefined : (0,external_node_util_.promisify)(lookup);
        this.lookup = this.#lookup.bind(this);
    }
    async lookupAsync(hostname, options) {
        const normalizedOptions = normalizeLookupOptions(options);
        const literalFamily = (0,external_node_net_.isIP)(hostname);
        if (literalFamily !== 0) {
            const entries = [{
                    address: hostname,
                    family: literalFamily,
                }];
            return normalizedOptions.all ? entries : entries[0];
        }
        let entries = await this.#query(hostname, normalizedOptions);
        entries = this.#filterEntries(entries, normalizedOptions);
        if (entries.length === 0) {
            throw createNoResultError(hostname);
        }
        const lookupResults = entries.map(entry => toLookupResult(entry));
        return normalizedOptions.all ? lookupResults : lookupResults[0];
    }
    clear(hostname) {
        this.#clearVersion++;
        if (hostname === undefined) {
            this.#minimumVersion = this.#clearVersion;
            this.#minimumVersionByHostname.clear();
            for (const key of this.#cacheKeys) {
                this.#cache.delete(key);
            }
            this.#cacheKeys.clear();
            this.#pending.clear();
            this.#pendingFallback.clear();
            this.#lookupOptionsToFallback.clear();
            this.#lookupOptionsWithoutFallback.clear();
            return;
        }
        for (const family of [4, 6]) {
            const key = cacheKey(hostname, family);
            this.#deleteCacheEntry(key);
            this.#pending.delete(key);
        }
        if (this.#activeQueriesByHostname.has(hostname)) {
            this.#minimumVersionByHostname.set(hostname, this.#clearVersion);
        }
        for (const map of [this.#pendingFallback, this.#lookupOptionsToFallback, this.#lookupOptionsWithoutFallback]) {
            for (const key of map.keys()) {
                if (key.startsWith(`${hostname}:`)) {
                    map.delete(key);
                }
            }
        }
    }
    #lookup(hostname, options, callback) {
        if (typeof options === 'function') {
            callback = options;
            options = {};
        }
        if (callback === undefined) {
            throw new Error('Callback must be a function.');
        }
        const normalizedOptions = normalizeLookupOptions(options);
        void this.#lookupAndCallback(hostname, normalizedOptions, callback);
    }
    async #lookupAndCallback(hostname, options, callback) {
        let result;
        try {
            result = await this.lookupAsync(hostname, options);
        }
        catch (error) {
            queueMicrotask(() => {
                const callbackWithError = callback;
                callbackWithError(error);
            });
            return;
        }
        queueMicrotask(() => {
            if (options.all) {
                callback(null, result);
                return;
            }
            const entry = result;
            callback(null, entry.address, entry.family);
        });
    }
    async #query(hostname, options) {
        this.#activeQueriesByHostname.set(hostname, (this.#activeQueriesByHostname.get(hostname) ?? 0) + 1);
        try {
            const lookupOptionKey = lookupOptionsKey(hostname, options);
            if (hasUnexpired(this.#lookupOptionsToFallback, lookupOptionKey)) {
                return await this.#fallbackLookupOnce(hostname, options, lookupOptionKey);
            }
            let families = filterFamiliesByAddrConfig(familiesFromOptions(options), options);
            const clearVersion = this.#clearVersion;
            let flattenedEntries = await this.#queryFamilies(hostname, families, clearVersion);
            if (shouldQueryMappedIpv4(flattenedEntries, options) && !families.includes(4)) {
                families = filterFamiliesByAddrConfig([4], options);
                flattenedEntries = await this.#queryFamilies(hostname, families, clearVersion);
            }
            if (flattenedEntries.length > 0 || this.#dnsLookupAsync === undefined) {
                return flattenedEntries;
            }
            if (hasUnexpired(this.#lookupOptionsWithoutFallback, lookupOptionKey)) {
                return [];
            }
            const fallbackEntries = await this.#fallbackLookupOnce(hostname, options, lookupOptionKey);
            if (!this.#isVersionCurrent(hostname, clearVersion)) {
                return fallbackEntries;
            }
            this.#deleteExpiredFallbackState();
            if (fallbackEntries.length > 0 && this.#fallbackDuration > 0) {
                this.#lookupOptionsToFallback.set(lookupOptionKey, now() + (this.#fallbackDuration * 1000));
            }
            else if (fallbackEntries.length === 0 && this.#errorTtl > 0) {
                this.#lookupOptionsWithoutFallback.set(lookupOptionKey, now() + (this.#errorTtl * 1000));
            }
            return fallbackEntries;
        }
        finally {
            this.#finishQuery(hostname);
        }
    }
    #finishQuery(hostname) {
        const activeQueryCount = this.#activeQueriesByHostname.get(hostname);
        if (activeQueryCount === undefined) {
            return;
        }
        if (activeQueryCount > 1) {
            this.#activeQueriesByHostname.set(hostname, activeQueryCount - 1);
            return;
        }
        this.#activeQueriesByHostname.delete(hostname);
        this.#minimumVersionByHostname.delete(hostname);
    }
    #deleteExpiredFallbackState() {
        const time = now();
        deleteExpiredMapEntries(this.#lookupOptionsToFallback, time);
        deleteExpiredMapEntries(this.#lookupOptionsWithoutFallback, time);
    }
    async #queryFamilies(hostname, families, clearVersion) {
        if (families.length === 1) {
            return this.#queryFamily(hostname, families[0], clearVersion);
        }
        const results = await Promise.allSettled(families.map(family => this.#queryFamily(hostname, family, clearVersion)));
        const entries = results.flatMap(result => result.status === 'fulfilled' ? result.value : []);
        if (entries.length > 0) {
            return entries;
        }
        const rejected = results.find(result => result.status === 'rejected');
        if (rejected !== undefined) {
            if (rejected.reason instanceof Error) {
                throw rejected.reason;
            }
            throw new Error(String(rejected.reason));
        }
        return [];
    }
    async #queryFamily(hostname, family, clearVersion) {
        const key = cacheKey(hostname, family);
        const cached = await this.#getCachedFamily(key, hostname);
        if (cached !== undefined) {
            return cached.entries;
        }
        if (!this.#isVersionCurrent(hostname, clearVersion)) {
            return this.#resolveAndCache(hostname, family, clearVersion);
        }
        const pending = this.#pending.get(key);
        if (pending !== undefined) {
            return pending;
        }
        const promise = this.#resolveAndCache(hostname, family, clearVersion);
        this.#pending.set(key, promise);
        try {
            return await promise;
        }
        finally {
            if (this.#pending.get(key) === promise) {
                this.#pending.delete(key);
            }
        }
    }
    async #getCachedFamily(key, hostname) {
        let cached = this.#cache.get(key);
        if (isPromiseLike(cached)) {
            cached = await cached;
        }
        if (cached === undefined) {
            return undefined;
        }
        if (!this.#isVersionCurrent(hostname, cached.clearVersion)) {
            return undefined;
        }
        if (cached.expires <= now()) {
            this.#deleteCacheEntry(key);
            return undefined;
        }
        return cached;
    }
    async #resolveAndCache(hostname, family, clearVersion) {
        const entries = await this.#resolveFamily(hostname, family);
        if (!this.#isVersionCurrent(hostname, clearVersion)) {
            return entries;
        }
        let expires = this.#expiresFor(entries);
        if (expires === undefined && entries.length === 0 && this.#errorTtl > 0) {
            expires = now() + (this.#errorTtl * 1000);
        }
        if (expires !== undefined) {
            await this.#setCachedFamily(cacheKey(hostname, family), hostname, { entries, expires }, clearVersion);
        }
        return entries;
    }
    async #setCachedFamily(key, hostname, cached, clearVersion) {
        if (!this.#isVersionCurrent(hostname, clearVersion)) {
            return;
        }
        await this.#deleteExpiredCacheEntries();
        await this.#cache.set(key, {
            ...cached,
            clearVersion,
        });
        this.#cacheKeys.add(key);
        if (this.#isVersionCurrent(hostname, clearVersion)) {
            return;
        }
        let current = this.#cache.get(key);
        if (isPromiseLike(current)) {
            current = await current;
        }
        if (current?.clearVersion === clearVersion && !this.#isVersionCurrent(hostname, current.clearVersion)) {
            this.#deleteCacheEntry(key);
        }
    }
    async #deleteExpiredCacheEntries() {
        const time = now();
        await Promise.all([...this.#cacheKeys].map(async (key) => this.#deleteExpiredCacheEntry(key, time)));
    }
    async #deleteExpiredCacheEntry(key, time) {
        let cached = this.#cache.get(key);
        if (isPromiseLike(cached)) {
            cached = await cached;
        }
        if (cached === undefined) {
            this.#cacheKeys.delete(key);
            return;
        }
        if (cached.expires > time) {
            return;
        }
        let current = this.#cache.get(key);
        if (isPromiseLike(current)) {
            current = await current;
        }
        if (current?.clearVersion === cached.clearVersion && current.expires === cached.expires) {
            this.#deleteCacheEntry(key);
        }
    }
    #deleteCacheEntry(key) {
        this.#cache.delete(key);
        this.#cacheKeys.delete(key);
    }
    #isVersionCurrent(hostname, clearVersion) {
        const minimumVersion = this.#minimumVersionByHostname.get(hostname) ?? this.#minimumVersion;
        return clearVersion >= minimumVersion;
    }
    async #resolveFamily(hostname, family) {
        try {
            const records = family === 4
                ? await this.#resolver.resolve4(hostname, ttl)
                : await this.#resolver.resolve6(hostname, ttl);
            return records.map(record => normalizeResolverRecord(record, family, this.#maxTtl));
        }
        catch (error) {
            if (shouldIgnoreResolveError(error)) {
                return [];
            }
            throw error;
        }
    }
    #expiresFor(entries) {
        let expires = Infinity;
        for (const entry of entries) {
            if (entry.expires === undefined) {
                continue;
            }
            expires = Math.min(expires, entry.expires);
        }
        return expires === Infinity ? undefined : expires;
    }
    #filterEntries(entries, options) {
        if (hasFlag(options.hints, external_node_dns_.ADDRCONFIG)) {
            const configuredFamilies = getConfiguredFamilies();
            entries = entries.filter(entry => configuredFamilies.has(entry.family));
        }
        const family = familyFromOptions(options);
        if (family === 6) {
            const ipv6Entries = entries.filter(entry => entry.family === 6);
            if (hasFlag(options.hints, external_node_dns_.V4MAPPED)) {
                entries = hasFlag(options.hints, external_node_dns_.ALL) || ipv6Entries.length === 0
                    ? map4To6(entries)
                    : ipv6Entries;
            }
            else {
                entries = ipv6Entries;
            }
        }
        else if (family === 4) {
            entries = entries.filter(entry => entry.family === 4);
        }
        return entries;
    }
    async #fallbackLookupOnce(hostname, options, key) {
        const pending = this.#pendingFallback.get(key);
        if (pending !== undefined) {
            return pending;
        }
        const promise = this.#fallbackLookup(hostname, options);
        this.#pendingFallback.set(key, promise);
        try {
            return await promise;
        }
        finally {
            if (this.#pendingFallback.get(key) === promise) {
                this.#pendingFallback.delete(key);
            }
        }
    }
    async #fallbackLookup(hostname, options) {
        if (this.#dnsLookupAsync === undefined) {
            return [];
        }
        let result;
        try {
            result = await this.#dnsLookupAsync(hostname, {
                ...options,
                all: true,
            });
        }
        catch (error) {
            if (shouldIgnoreResolveError(error)) {
                return [];
            }
            throw error;
        }
        // Only `dns.lookup` honours `all`, so a custom lookup can resolve with a single address.
        const entries = Array.isArray(result) ? result : [{ address: result, family: (0,external_node_net_.isIP)(result) }];
        return entries.map(entry => toLookupResult(entry));
    }
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/utils/http2-client.js
/* eslint-disable @typescript-eslint/naming-convention, @typescript-eslint/no-restricted-types, @typescript-eslint/no-deprecated -- These come from Node's own type definitions, which the lint would otherwise reject here. */











const { HTTP2_HEADER_AUTHORITY, HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, HTTP2_HEADER_SCHEME, HTTP2_HEADER_STATUS, HTTP2_METHOD_CONNECT, NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, } = external_node_http2_.constants;
const maxProtocolCacheSize = 100;
const protocolCache = new Map();
const referenceIds = new WeakMap();
let nextReferenceId = 0;
const connectionSpecificHeaders = new Set([
    'connection',
    'http2-settings',
    'keep-alive',
    'proxy-connection',
    'transfer-encoding',
    'upgrade',
]);
const normalizeRequestHeaderName = (name) => name.toLowerCase() === 'host' ? HTTP2_HEADER_AUTHORITY : name.toLowerCase();
const isPseudoHeader = (name) => name.startsWith(':');
const getConnectionHeaderTokens = (value) => {
    if (value === undefined) {
        return [];
    }
    const values = Array.isArray(value) ? value : [value];
    const tokens = [];
    for (const item of values) {
        for (const token of String(item).split(',')) {
            const normalizedToken = token.trim().toLowerCase();
            if (normalizedToken.length > 0) {
                tokens.push(normalizedToken);
            }
        }
    }
    return tokens;
};
const isTrailersTeHeader = (value) => {
    if (value === undefined) {
        return true;
    }
    return Array.isArray(value) ? value.length === 1 && value[0].trim().toLowerCase() === 'trailers' : String(value).trim().toLowerCase() === 'trailers';
};
const isConnectionHeader = (lowercasedName) => lowercasedName === 'connection' || lowercasedName === 'proxy-connection';
// HTTP/2 forbids connection-specific fields, the fields a `connection` header nominates, and any `te` value other than `trailers`.
const isDroppedHeader = (lowercasedName, value, connectionHeaderNames) => connectionSpecificHeaders.has(lowercasedName)
    || connectionHeaderNames.has(lowercasedName)
    || (lowercasedName === 'te' && !isTrailersTeHeader(value));
const setProtocolCache = (key, value) => {
    if (!protocolCache.has(key) && protocolCache.size >= maxProtocolCacheSize) {
        protocolCache.delete(protocolCache.keys().next().value);
    }
    protocolCache.set(key, value);
};
const getReferenceId = (value) => {
    let referenceId = referenceIds.get(value);
    if (referenceId === undefined) {
        referenceId = nextReferenceId++;
        referenceIds.set(value, referenceId);
    }
    return referenceId;
};
const http2_client_isPlainObject = (value) => {
    const prototype = Object.getPrototypeOf(value);
    return prototype === Object.prototype || prototype === null;
};
const serializeSessionOption = (value) => {
    if (value === undefined) {
        return ['undefined'];
    }
    if (value === null) {
        return ['null'];
    }
    if (typeof value === 'function') {
        return ['function', getReferenceId(value)];
    }
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        return [typeof value, value];
    }
    if (typeof value === 'bigint') {
        return ['bigint', value.toString()];
    }
    if (typeof value === 'symbol') {
        return ['symbol', value.description];
    }
    if (Array.isArray(value)) {
        return ['array', value.map(item => serializeSessionOption(item))];
    }
    if (typeof value === 'object') {
        if (ArrayBuffer.isView(value)) {
            return ['bytes', external_node_buffer_.Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')];
        }
        return http2_client_isPlainObject(value) ? ['object', Object.entries(value).toSorted(([left], [right]) => left.localeCompare(right)).map(([key, item]) => [key, serializeSessionOption(item)])] : ['object-reference', getReferenceId(value)];
    }
    return [typeof value];
};
const serializeSessionOptions = (values) => JSON.stringify(values.map(value => serializeSessionOption(value)));
const getTlsSessionOptions = (options) => [
    options.ca,
    options.cert,
    options.key,
    options.pfx,
    options.rejectUnauthorized,
    options.servername,
    options.localAddress,
    options.lookup,
    options.family,
    options.minVersion,
    options.maxVersion,
    options.ciphers,
    options.honorCipherOrder,
    options.checkServerIdentity,
    options.passphrase,
    options.sigalgs,
    options.sessionTimeout,
    options.dhparam,
    options.ecdhCurve,
    options.crl,
    options.secureOptions,
    options.secureContext,
    options.secureProtocol,
];
const destroyReuseSocket = (options) => {
    options._reuseSocket?.destroy();
    delete options._reuseSocket;
    delete options._reuseSocketShouldPool;
};
const onceConnected = (socket, listener) => {
    if (socket.connecting) {
        socket.once('connect', listener);
    }
    else {
        listener();
    }
};
const canPoolSession = (options) => options._reuseSocket === undefined || options._reuseSocketShouldPool === true;
const rejectQueueEntry = (entry, error) => {
    delete entry.options._cancelSessionSetup;
    destroyReuseSocket(entry.options);
    entry.reject(error);
};
const normalizeInput = (input, options, callback) => {
    let normalizedOptions;
    if (typeof input === 'string') {
        normalizedOptions = (0,external_node_url_.urlToHttpOptions)(new URL(input));
    }
    else if (input instanceof URL) {
        normalizedOptions = (0,external_node_url_.urlToHttpOptions)(input);
    }
    else {
        normalizedOptions = { ...input };
    }
    if (typeof options === 'function' || options === undefined) {
        callback = options;
    }
    else {
        normalizedOptions = {
            ...normalizedOptions,
            ...options,
        };
    }
    return { options: normalizedOptions, callback };
};
const stripIpv6Brackets = (hostname) => hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
const getAuthority = (options) => {
    const protocol = options.protocol ?? 'https:';
    const defaultPort = protocol === 'https:' ? 443 : 80;
    if (options.hostname === undefined && options.host !== undefined) {
        try {
            const authority = new URL(`${protocol}//${options.host}`);
            const port = options.port ?? authority.port;
            authority.port = String(port === '' ? defaultPort : port);
            return authority;
        }
        catch {
            // Fall back to hostname normalization for values like bare IPv6 addresses.
        }
    }
    const port = options.port ?? defaultPort;
    const normalizedHostname = stripIpv6Brackets(options.hostname ?? options.host ?? 'localhost');
    const formattedHostname = external_node_net_.isIP(normalizedHostname) === 6 ? `[${normalizedHostname}]` : normalizedHostname;
    const authority = new URL(`${protocol}//${formattedHostname}`);
    authority.port = String(port);
    return authority;
};
const getAuthorityPort = (authority) => {
    if (authority.port !== '') {
        return Number(authority.port);
    }
    return authority.protocol === 'https:' ? 443 : 80;
};
const hasCustomHttpsAgent = (agent) => typeof agent === 'object'
    && 'https' in agent
    && agent.https !== undefined
    && agent.https !== false;
const getProtocolCacheKey = (options) => {
    const authority = getAuthority(options);
    const protocols = (options.ALPNProtocols ?? ['h2', 'http/1.1']).join(',');
    return serializeSessionOptions([
        authority.host,
        protocols,
        ...getTlsSessionOptions(options),
    ]);
};
const resolveProtocol = async (options, sourceOptions) => {
    const cacheKey = getProtocolCacheKey(options);
    const cachedProtocol = options.createConnection ? undefined : protocolCache.get(cacheKey);
    if (cachedProtocol !== undefined) {
        return { alpnProtocol: cachedProtocol };
    }
    const authority = getAuthority(options);
    const { path: _path, agent: _agent, h2session: _h2session, _reuseSocket, _reuseSocketShouldPool, _alpnSocket, _socketTimeout, _timeoutPhase: timeoutPhase, timeout, createConnection, checkServerIdentity, 
    // The socket outlives this request when the session is pooled, so the signal must
    // not be handed to the TLS connect. Aborting during setup is handled below.
    signal: _signal, ...connectionOptions } = options;
    const port = getAuthorityPort(authority);
    const hostname = stripIpv6Brackets(authority.hostname);
    const servername = options.servername ?? (external_node_net_.isIP(hostname) === 0 ? hostname : undefined);
    const tlsOptions = {
        ...connectionOptions,
        ALPNProtocols: options.ALPNProtocols ?? ['h2', 'http/1.1'],
        host: hostname,
        port,
        servername,
        ...(checkServerIdentity && { checkServerIdentity: checkServerIdentity }),
    };
    const socket = createConnection
        ? createConnection(tlsOptions, () => { })
        : external_node_tls_.connect(port, hostname, tlsOptions);
    options._alpnSocket = socket;
    sourceOptions._alpnSocket = socket;
    return new Promise((resolve, reject) => {
        let settled = false;
        let timeoutId;
        let removeAbortListener;
        let socketTimeoutApplied = false;
        const cleanup = () => {
            clearTimeout(timeoutId);
            removeAbortListener?.();
            socket.off('secureConnect', onSecureConnect);
            socket.off('error', rejectOnce);
            socket.off('close', onClose);
            socket.off('connect', applySocketTimeout);
            socket.off('timeout', onSocketTimeout);
            if (socketTimeoutApplied) {
                socket.setTimeout(0);
            }
            delete options._alpnSocket;
            delete sourceOptions._alpnSocket;
        };
        const rejectOnce = (error) => {
            if (settled) {
                return;
            }
            settled = true;
            cleanup();
            socket.destroy();
            reject(error);
        };
        const onSecureConnect = () => {
            if (settled) {
                return;
            }
            settled = true;
            cleanup();
            const alpnProtocol = socket.alpnProtocol ?? false;
            if (!options.createConnection) {
                setProtocolCache(cacheKey, alpnProtocol);
            }
            resolve({ alpnProtocol, socket });
        };
        const onTimeout = () => {
            rejectOnce(new timed_out_TimeoutError(Number(timeout), timeoutPhase ?? 'request'));
        };
        const onSocketTimeout = () => {
            rejectOnce(new timed_out_TimeoutError(_socketTimeout, 'socket'));
        };
        const applySocketTimeout = () => {
            // A delay Node.js cannot arm means no socket timeout.
            if (!isArmableTimerDelay(_socketTimeout)) {
                return;
            }
            socketTimeoutApplied = true;
            socket.setTimeout(_socketTimeout);
            socket.once('timeout', onSocketTimeout);
        };
        const onClose = () => {
            const error = new Error('The HTTP/2 ALPN socket closed before negotiation completed');
            error.code = 'ECONNRESET';
            rejectOnce(error);
        };
        const onAbort = () => {
            const error = new Error('This operation was aborted.');
            error.name = 'AbortError';
            error.code = 'ERR_ABORTED';
            rejectOnce(error);
        };
        if (options.signal?.aborted) {
            onAbort();
            return;
        }
        socket.once('secureConnect', onSecureConnect);
        socket.once('error', rejectOnce);
        socket.once('close', onClose);
        if (_socketTimeout !== undefined) {
            onceConnected(socket, applySocketTimeout);
        }
        if (options.signal) {
            options.signal.addEventListener('abort', onAbort, { once: true });
            removeAbortListener = () => {
                options.signal?.removeEventListener('abort', onAbort);
            };
        }
        if (timeout !== undefined) {
            timeoutId = setTimeout(onTimeout, timeout);
            timeoutId.unref();
        }
    });
};
const toRawHeaders = (headers) => {
    const rawHeaders = [];
    for (const [key, value] of Object.entries(headers)) {
        if (key.startsWith(':') || value === undefined) {
            continue;
        }
        if (Array.isArray(value)) {
            for (const item of value) {
                rawHeaders.push(key, item);
            }
        }
        else {
            rawHeaders.push(key, value);
        }
    }
    return rawHeaders;
};
const filterRawHeaders = (rawHeaders) => {
    const filteredHeaders = [];
    for (let index = 0; index < rawHeaders.length; index += 2) {
        const key = rawHeaders[index];
        if (key.startsWith(':')) {
            continue;
        }
        filteredHeaders.push(key, rawHeaders[index + 1]);
    }
    return filteredHeaders;
};
const filterHeaders = (headers) => {
    const filteredHeaders = {};
    for (const [key, value] of Object.entries(headers)) {
        if (key.startsWith(':') || value === undefined) {
            continue;
        }
        filteredHeaders[key] = value;
    }
    return filteredHeaders;
};
const toDistinctHeaders = (rawHeaders) => {
    const headers = Object.create(null);
    for (let index = 0; index < rawHeaders.length; index += 2) {
        const name = rawHeaders[index].toLowerCase();
        // Preserve individual field values, including commas within a single value.
        (headers[name] ??= []).push(rawHeaders[index + 1]);
    }
    return headers;
};
const createSocketProxy = (stream) => new Proxy(stream.session.socket, {
    get(target, property, receiver) {
        if (property === 'destroy') {
            return stream.destroy.bind(stream);
        }
        if (property === 'destroyed') {
            return stream.destroyed;
        }
        return property === 'setTimeout' ? stream.setTimeout.bind(stream) : Reflect.get(target, property, receiver);
    },
});
class Http2IncomingMessage extends external_node_stream_.Readable {
    stream;
    req;
    constructor(stream, request_, highWaterMark) {
        super({
            autoDestroy: true,
            emitClose: false,
            highWaterMark,
        });
        this.stream = stream;
        this.req = request_;
        this.socket = request_.socket;
    }
    aborted = false;
    httpVersion = '2.0';
    httpVersionMajor = 2;
    httpVersionMinor = 0;
    complete = false;
    rawHeaders = [];
    rawTrailers = [];
    headers = {};
    headersDistinct = {};
    trailers = {};
    trailersDistinct = {};
    statusCode;
    statusMessage;
    socket;
    url = '';
    method;
    upgrade = false;
    receivedSize = 0;
    get isCompleteAfterNoErrorReset() {
        // The reset pushes its own EOF only after the `aborted` event, so a response that already
        // completed received END_STREAM first.
        if (this.complete) {
            return true;
        }
        const statusCode = this.statusCode ?? 0;
        if (this.req.method === 'HEAD' || (statusCode >= 100 && statusCode < 200) || statusCode === 204 || statusCode === 205 || statusCode === 304) {
            return true;
        }
        const contentLength = this.headers['content-length'];
        if (typeof contentLength !== 'string' || !/^\d+$/v.test(contentLength)) {
            return false;
        }
        const expectedSize = Number(contentLength);
        return Number.isSafeInteger(expectedSize) && expectedSize === this.receivedSize + this.stream.readableLength;
    }
    get connection() {
        return this.socket;
    }
    set connection(value) {
        this.socket = value;
    }
    setTimeout(ms, callback) {
        if (callback) {
            this.once('timeout', callback);
        }
        this.req.setTimeout(ms);
        return this;
    }
    _destroy(error, callback) {
        if (!this.readableEnded && !this.aborted) {
            this.aborted = true;
            // A destroy error settles the request itself. Without one, only `aborted` does, because
            // the stream `close` handler skips a response that is already aborted.
            if (!error) {
                this.emit('aborted');
            }
        }
        this.stream.destroy(error ?? undefined);
        callback(error);
    }
    _read() {
        this.stream.resume();
    }
    _dump() {
        this.removeAllListeners('data');
        this.resume();
    }
}
class Http2Agent extends external_node_events_.EventEmitter {
    timeout;
    maxSessions;
    maxEmptySessions;
    sessions = new Map();
    pendingSessions = new Set();
    pendingSessionKeys = new Set();
    queue = [];
    emptySessionCount = 0;
    sessionCount = 0;
    settings = {
        enablePush: false,
        initialWindowSize: 1024 * 1024 * 32,
    };
    constructor({ timeout = 0, maxSessions = Infinity, maxEmptySessions = 10 } = {}) {
        super();
        this.timeout = timeout;
        this.maxSessions = maxSessions;
        this.maxEmptySessions = maxEmptySessions;
    }
    get protocol() {
        return 'https:';
    }
    async request(origin, options, headers, streamOptions) {
        const { session, reusedSocket } = await this.getSessionWithMetadata(origin, options, true);
        return {
            stream: session.request(headers, streamOptions),
            reusedSocket,
        };
    }
    async getSession(origin, options = {}) {
        const { session } = await this.getSessionWithMetadata(origin, options);
        return session;
    }
    async getSessionWithMetadata(origin, options = {}, reserveStream = false) {
        const normalizedOrigin = typeof origin === 'string' ? new URL(origin) : origin;
        const session = this.claimAvailableSession(this.normalizeOptions(normalizedOrigin, options), options, reserveStream);
        if (session) {
            return {
                session,
                reusedSocket: true,
            };
        }
        return new Promise((resolve, reject) => {
            const entry = {
                origin: normalizedOrigin,
                options,
                reserveStream,
                resolve,
                reject,
            };
            options._cancelSessionSetup = () => {
                const index = this.queue.indexOf(entry);
                if (index !== -1) {
                    this.queue.splice(index, 1);
                    rejectQueueEntry(entry, new Error('HTTP/2 session setup canceled'));
                }
            };
            this.queue.push(entry);
            this.processQueue();
        });
    }
    normalizeOptions(origin, options = {}) {
        return serializeSessionOptions([
            origin.origin,
            ...getTlsSessionOptions(options),
        ]);
    }
    closeEmptySessions(maxCount = Infinity) {
        let closedCount = 0;
        for (const sessions of this.sessions.values()) {
            for (const session of sessions) {
                if ((session.currentStreamCount ?? 0) !== 0) {
                    continue;
                }
                closedCount++;
                session.close();
                if (closedCount >= maxCount) {
                    return closedCount;
                }
            }
        }
        return closedCount;
    }
    destroy(reason) {
        for (const sessions of this.sessions.values()) {
            for (const session of sessions) {
                session.destroy(reason);
            }
        }
        for (const session of this.pendingSessions) {
            session.destroy(reason);
        }
        this.sessions.clear();
        this.pendingSessionKeys.clear();
        while (this.queue.length > 0) {
            rejectQueueEntry(this.queue.shift(), reason ?? new Error('Agent has been destroyed'));
        }
    }
    // Takes an available pooled session for the request, and drops the socket it would otherwise have reused.
    claimAvailableSession(key, options, reserveStream) {
        const session = canPoolSession(options) ? this.getAvailableSession(key) : undefined;
        if (session) {
            if (reserveStream) {
                this.reserveStream(session);
            }
            destroyReuseSocket(options);
        }
        return session;
    }
    getAvailableSession(key) {
        const sessions = this.sessions.get(key);
        if (!sessions) {
            return;
        }
        return sessions.find(session => !session.destroyed
            && !session.closed
            && !session.gracefullyClosing
            && (session.currentStreamCount ?? 0) < (session.remoteSettings.maxConcurrentStreams ?? 100));
    }
    processQueue() {
        let index = 0;
        while (index < this.queue.length) {
            const entry = this.queue[index];
            const key = this.normalizeOptions(entry.origin, entry.options);
            const session = this.claimAvailableSession(key, entry.options, entry.reserveStream);
            if (session) {
                this.queue.splice(index, 1);
                delete entry.options._cancelSessionSetup;
                entry.resolve({
                    session,
                    reusedSocket: true,
                });
                continue;
            }
            const canUsePooledSession = canPoolSession(entry.options);
            if (canUsePooledSession && this.pendingSessionKeys.has(key)) {
                index++;
                continue;
            }
            if (this.sessionCount >= this.maxSessions) {
                this.closeEmptySessions(this.sessionCount - this.maxSessions + 1);
                if (this.sessionCount >= this.maxSessions) {
                    index++;
                    continue;
                }
            }
            this.queue.splice(index, 1);
            if (canUsePooledSession) {
                this.pendingSessionKeys.add(key);
            }
            this.createSession(entry, key);
        }
    }
    // `isCapacityReservation` is false when the capacity was not reserved ahead of time, so
    // the stream is only counted. Reserving again would strand the reservation.
    reserveStream(session, isCapacityReservation = true) {
        session.ref();
        if (session.currentStreamCount === 0 && session.emptySessionCounted) {
            this.emptySessionCount--;
            session.emptySessionCounted = false;
        }
        session.currentStreamCount = (session.currentStreamCount ?? 0) + 1;
        if (isCapacityReservation) {
            session.reservedStreamCount = (session.reservedStreamCount ?? 0) + 1;
        }
    }
    releaseStream(session, shouldPoolSession) {
        session.currentStreamCount = session.currentStreamCount - 1;
        if (session.currentStreamCount === 0) {
            if (!shouldPoolSession) {
                session.close();
                this.processQueue();
                return;
            }
            this.emptySessionCount++;
            session.emptySessionCounted = true;
            session.unref();
            if (this.emptySessionCount > this.maxEmptySessions || session.gracefullyClosing) {
                session.close();
                return;
            }
        }
        this.processQueue();
    }
    createSession(entry, key) {
        this.sessionCount++;
        const { path: _path, agent: _agent, h2session: _h2session, _reuseSocketShouldPool, _socketTimeout, _timeoutPhase: timeoutPhase, timeout: setupTimeout, 
        // The session is pooled, so a per-request signal must not tear it down for the
        // requests that follow. Got aborts its own request instead.
        signal: _signal, ...sessionOptions } = entry.options;
        const options = {
            ...sessionOptions,
            settings: entry.options.settings ?? this.settings,
            ALPNProtocols: ['h2'],
        };
        const reuseSocket = options._reuseSocket;
        const shouldPoolSession = canPoolSession(entry.options);
        if (reuseSocket) {
            options.createConnection = () => reuseSocket;
            delete options._reuseSocket;
        }
        let session;
        try {
            session = external_node_http2_.connect(entry.origin, options);
        }
        catch (error) {
            this.sessionCount--;
            this.pendingSessionKeys.delete(key);
            rejectQueueEntry(entry, error);
            this.processQueue();
            return;
        }
        this.pendingSessions.add(session);
        session.currentStreamCount = 0;
        session.reservedStreamCount = 0;
        session.emptySessionCounted = false;
        session.gracefullyClosing = false;
        let settled = false;
        let sessionSetupTimeout;
        let socketTimeoutApplied = false;
        const sessionSocket = session.socket;
        const removeSessionSocketListener = sessionSocket.removeListener.bind(sessionSocket);
        const clearSocketTimeout = () => {
            removeSessionSocketListener('connect', applySocketTimeout);
            if (!socketTimeoutApplied) {
                return;
            }
            socketTimeoutApplied = false;
            session.off('timeout', onSocketTimeout);
            if (!session.closed && !session.destroyed) {
                session.setTimeout(this.timeout);
            }
        };
        const clearSessionSetup = () => {
            clearTimeout(sessionSetupTimeout);
            clearSocketTimeout();
            this.pendingSessions.delete(session);
            this.pendingSessionKeys.delete(key);
            delete entry.options._cancelSessionSetup;
        };
        const rejectSessionSetup = (error) => {
            if (settled) {
                return;
            }
            settled = true;
            clearSessionSetup();
            entry.reject(error);
            queueMicrotask(() => {
                session.destroy(error);
            });
        };
        const onSocketTimeout = () => {
            rejectSessionSetup(new timed_out_TimeoutError(_socketTimeout, 'socket'));
        };
        const applySocketTimeout = () => {
            // A delay Node.js cannot arm means no socket timeout.
            if (!isArmableTimerDelay(_socketTimeout)) {
                return;
            }
            socketTimeoutApplied = true;
            session.setTimeout(_socketTimeout, onSocketTimeout);
        };
        if (this.timeout > 0) {
            session.setTimeout(this.timeout, () => {
                session.destroy();
            });
        }
        if (_socketTimeout !== undefined) {
            onceConnected(sessionSocket, applySocketTimeout);
        }
        if (setupTimeout !== undefined) {
            sessionSetupTimeout = setTimeout(() => {
                rejectSessionSetup(new timed_out_TimeoutError(setupTimeout, timeoutPhase ?? 'request'));
            }, setupTimeout);
            sessionSetupTimeout.unref();
        }
        const removeSession = () => {
            if (session.emptySessionCounted) {
                this.emptySessionCount--;
                session.emptySessionCounted = false;
            }
            const sessions = this.sessions.get(key);
            if (sessions) {
                const index = sessions.indexOf(session);
                if (index !== -1) {
                    sessions.splice(index, 1);
                }
                if (sessions.length === 0) {
                    this.sessions.delete(key);
                }
            }
        };
        session.once('remoteSettings', () => {
            if (settled) {
                return;
            }
            settled = true;
            clearSessionSetup();
            if (shouldPoolSession) {
                const sessions = this.sessions.get(key) ?? [];
                sessions.push(session);
                this.sessions.set(key, sessions);
            }
            this.emit('session', session);
            if (entry.reserveStream) {
                this.reserveStream(session);
            }
            entry.resolve({
                session,
                reusedSocket: false,
            });
        });
        // Updated stream limits can make room for queued requests without an active stream closing.
        session.on('remoteSettings', () => {
            this.processQueue();
        });
        session.once('error', error => {
            clearSessionSetup();
            if (!settled) {
                settled = true;
                entry.reject(error);
            }
            removeSession();
        });
        session.once('goaway', () => {
            session.gracefullyClosing = true;
            if (session.currentStreamCount === 0) {
                session.close();
            }
        });
        session.once('close', () => {
            clearSessionSetup();
            this.sessionCount--;
            if (!settled) {
                settled = true;
                entry.reject(new Error('The HTTP/2 session closed before settings were received'));
            }
            removeSession();
            this.processQueue();
        });
        entry.options._cancelSessionSetup = () => {
            if (settled) {
                return;
            }
            settled = true;
            clearSessionSetup();
            entry.reject(new Error('HTTP/2 session setup canceled'));
            session.destroy();
        };
        const request = session.request.bind(session);
        session.request = (headers, streamOptions) => {
            const hasReservedStream = (session.reservedStreamCount ?? 0) > 0;
            if (hasReservedStream) {
                session.reservedStreamCount = session.reservedStreamCount - 1;
            }
            if (session.gracefullyClosing) {
                if (hasReservedStream) {
                    this.releaseStream(session, shouldPoolSession);
                }
                throw new Error('The session is gracefully closing. No new streams are allowed.');
            }
            if (!hasReservedStream) {
                this.reserveStream(session, false);
            }
            let stream;
            try {
                stream = request(headers, streamOptions);
            }
            catch (error) {
                this.releaseStream(session, shouldPoolSession);
                throw error;
            }
            stream.once('close', () => {
                this.releaseStream(session, shouldPoolSession);
            });
            return stream;
        };
    }
}
class Http2ClientRequest extends external_node_stream_.Writable {
    constructor(input, options, callback) {
        super({
            autoDestroy: false,
            emitClose: false,
        });
        const normalized = normalizeInput(input, options, callback);
        this.options = normalized.options;
        this.callback = normalized.callback;
        this.method = (this.options.method ?? 'GET').toUpperCase();
        this.path = this.method === HTTP2_METHOD_CONNECT ? this.options.path ?? '' : this.options.path ?? '/';
        this.protocol = this.options.protocol ?? 'https:';
        this.headers = Object.create(null);
        if (this.protocol !== 'https:' && !this.options.h2session) {
            throw new Error(`Protocol "${this.protocol}" not supported. Expected "https:"`);
        }
        const headers = this.options.headers;
        if (headers) {
            for (const [key, value] of Object.entries(headers)) {
                this.setHeader(key, value);
            }
        }
        if (this.options.auth && !this.hasHeader('authorization')) {
            this.setHeader('authorization', `Basic ${external_node_buffer_.Buffer.from(this.options.auth).toString('base64')}`);
        }
        if (this.callback) {
            this.once('response', this.callback);
        }
        const authority = getAuthority(this.options);
        this.origin = authority;
        if (!this.hasHeader(HTTP2_HEADER_AUTHORITY)) {
            this.headers[HTTP2_HEADER_AUTHORITY] = this.method === HTTP2_METHOD_CONNECT ? this.path : authority.host;
        }
        this.headers[HTTP2_HEADER_METHOD] = this.method;
        if (this.method !== HTTP2_METHOD_CONNECT) {
            this.headers[HTTP2_HEADER_SCHEME] = this.protocol.slice(0, -1);
            this.headers[HTTP2_HEADER_PATH] = this.path;
        }
    }
    agent;
    aborted = false;
    reusedSocket = false;
    res;
    socket;
    connection;
    method;
    path;
    protocol;
    host;
    headersSent = false;
    maxHeadersCount;
    options;
    callback;
    headers;
    origin;
    stream;
    pendingJobs = [];
    pendingAgentPromise;
    connectionHeaderNames = new Set();
    trailers;
    get isGotHttp2Request() {
        return true;
    }
    _write(chunk, encoding, callback) {
        this.runWithStream({
            run: () => {
                this.stream.write(chunk, encoding, callback);
            },
            cancel: callback,
        });
        void this.flushHeaders();
    }
    _final(callback) {
        this.runWithStream({
            run: () => {
                if (this.trailers) {
                    this.stream.once('wantTrailers', () => {
                        this.stream.sendTrailers(this.trailers);
                    });
                }
                this.stream.end(callback);
            },
            cancel: callback,
        });
        void this.flushHeaders();
    }
    _destroy(error, callback) {
        if (this.res && typeof this.res._dump === 'function') {
            this.res._dump();
        }
        void this.pendingAgentPromise?.catch(() => { });
        if (this.stream) {
            this.stream.close(NGHTTP2_CANCEL);
        }
        else {
            this.options._cancelSessionSetup?.();
            this.cancelPendingJobs(error ?? new Error('The HTTP/2 request was destroyed before a stream was created'));
        }
        callback(error);
        if (!this.stream) {
            // Node.js emits the `error` event on the next tick after the destroy callback, so `close` must be queued after it to keep the `http.ClientRequest` event order.
            external_node_process_namespaceObject.nextTick(() => {
                this.emit('close');
            });
        }
    }
    abort() {
        if (this.res?.complete) {
            return;
        }
        if (!this.aborted) {
            queueMicrotask(() => {
                this.emit('abort');
            });
        }
        this.aborted = true;
        this.destroy();
    }
    async flushHeaders() {
        if (this.headersSent || this.destroyed) {
            return;
        }
        this.headersSent = true;
        const streamOptions = {
            endStream: false,
            waitForTrailers: this.trailers !== undefined,
        };
        try {
            if (this.options.h2session) {
                this.reusedSocket = true;
                this.onStream(this.options.h2session.request(this.headers, streamOptions));
                return;
            }
            this.agent = this.options.agent === false ? new Http2Agent({ maxEmptySessions: 0 }) : this.options.agent ?? globalAgent;
            const streamPromise = this.agent.request(this.origin, this.options, this.headers, streamOptions);
            this.pendingAgentPromise = streamPromise;
            const { stream, reusedSocket } = await streamPromise;
            this.reusedSocket = reusedSocket;
            this.onStream(stream);
            this.pendingAgentPromise = undefined;
        }
        catch (error) {
            this.pendingAgentPromise = undefined;
            this.destroy(error);
        }
    }
    addTrailers(headers) {
        if (this.headersSent) {
            throw new Error('Cannot add trailers after the HTTP/2 stream has been created');
        }
        const trailers = Object.create(null);
        const connectionHeaderNames = new Set();
        for (const [name, value] of Object.entries(headers)) {
            (0,external_node_http_.validateHeaderName)(name);
            (0,external_node_http_.validateHeaderValue)(name, value);
            const lowercasedName = name.toLowerCase();
            if (isConnectionHeader(lowercasedName)) {
                for (const token of getConnectionHeaderTokens(value)) {
                    connectionHeaderNames.add(token);
                    Reflect.deleteProperty(trailers, token);
                }
                continue;
            }
            if (isDroppedHeader(lowercasedName, value, connectionHeaderNames)) {
                continue;
            }
            trailers[lowercasedName] = value;
        }
        this.trailers = trailers;
    }
    setHeader(name, value) {
        if (this.headersSent) {
            throw new Error('Cannot set headers after they are sent to the client');
        }
        (0,external_node_http_.validateHeaderName)(name);
        (0,external_node_http_.validateHeaderValue)(name, value);
        const lowercasedName = name.toLowerCase();
        if (isConnectionHeader(lowercasedName)) {
            for (const token of getConnectionHeaderTokens(value)) {
                this.connectionHeaderNames.add(token);
                Reflect.deleteProperty(this.headers, normalizeRequestHeaderName(token));
            }
            return this;
        }
        if (isDroppedHeader(lowercasedName, value, this.connectionHeaderNames)) {
            return this;
        }
        // Node's HTTP/2 API requires the canonical spelling of this case-insensitive token.
        this.headers[normalizeRequestHeaderName(name)] = lowercasedName === 'te' ? 'trailers' : value;
        return this;
    }
    setHeaders(headers) {
        if (this.headersSent) {
            throw new Error('Cannot set headers after they are sent to the client');
        }
        if (!(headers instanceof Headers) && !(headers instanceof Map)) {
            throw new TypeError('Headers must be a Headers instance or a Map');
        }
        for (const [name, value] of headers) {
            // Fetch Headers can contain multiple Set-Cookie fields, including commas within individual values.
            const headerValue = headers instanceof Headers && name === 'set-cookie' ? headers.getSetCookie() : value;
            this.setHeader(name, typeof headerValue === 'string' || typeof headerValue === 'number' ? headerValue : [...headerValue]);
        }
        return this;
    }
    appendHeader(name, value) {
        const current = this.getHeader(name);
        if (current === undefined) {
            return this.setHeader(name, typeof value === 'string' ? value : [...value]);
        }
        const values = Array.isArray(current) ? current : [String(current)];
        return this.setHeader(name, [...values, ...(typeof value === 'string' ? [value] : value)]);
    }
    getHeader(name) {
        return this.headers[normalizeRequestHeaderName(name)];
    }
    getHeaders() {
        // HTTP/2 pseudo-headers are not header fields, so they stay out of the public view.
        return Object.fromEntries(Object.entries(this.headers).filter(([name]) => !isPseudoHeader(name)));
    }
    getHeaderNames() {
        return Object.keys(this.getHeaders());
    }
    hasHeader(name) {
        return this.getHeader(name) !== undefined;
    }
    removeHeader(name) {
        if (this.headersSent) {
            throw new Error('Cannot remove headers after they are sent to the client');
        }
        // A removed `connection` header must stop nominating the headers it listed.
        if (isConnectionHeader(name.toLowerCase())) {
            for (const token of this.connectionHeaderNames) {
                Reflect.deleteProperty(this.headers, normalizeRequestHeaderName(token));
            }
            this.connectionHeaderNames.clear();
        }
        Reflect.deleteProperty(this.headers, normalizeRequestHeaderName(name));
    }
    setNoDelay() { }
    setSocketKeepAlive() { }
    setTimeout(ms, callback) {
        if (callback) {
            this.once('timeout', callback);
        }
        this.runWithStream({
            run: () => {
                this.stream.setTimeout(ms);
            },
        });
        return this;
    }
    // Runs the job now when the stream exists, or once `onStream` receives it.
    runWithStream(job) {
        if (this.stream) {
            job.run();
        }
        else {
            this.pendingJobs.push(job);
        }
    }
    cancelPendingJobs(error) {
        const jobs = this.pendingJobs;
        this.pendingJobs = [];
        for (const job of jobs) {
            job.cancel?.(error);
        }
    }
    onStream(stream) {
        this.stream = stream;
        this.socket = createSocketProxy(stream);
        this.connection = this.socket;
        if (this.destroyed) {
            stream.destroy();
            return;
        }
        let streamErrorSeen = false;
        stream.once('error', error => {
            streamErrorSeen = true;
            if (this.destroyed) {
                return;
            }
            this.destroy(error);
        });
        stream.on('timeout', () => {
            this.emit('timeout');
            this.res?.emit('timeout');
        });
        stream.once('aborted', () => {
            // A NO_ERROR reset can come with or without END_STREAM, so only preserve responses that already completed, or whose completeness can be verified from their semantics or Content-Length.
            if (this.res && stream.rstCode === NGHTTP2_NO_ERROR && this.res.isCompleteAfterNoErrorReset) {
                return;
            }
            if (this.res) {
                this.res.complete = false;
                this.res.aborted = true;
                this.res.emit('aborted');
                this.res.destroy();
            }
            else {
                this.destroy(new Error('The server aborted the HTTP/2 stream'));
            }
        });
        stream.once('response', (headers, _flags, rawHeaders) => {
            const response = new Http2IncomingMessage(stream, this, stream.readableHighWaterMark);
            const incomingResponse = response;
            response.statusCode = Number(headers[HTTP2_HEADER_STATUS]);
            response.headers = filterHeaders(headers);
            response.rawHeaders = rawHeaders ? filterRawHeaders(rawHeaders) : toRawHeaders(headers);
            response.headersDistinct = toDistinctHeaders(response.rawHeaders);
            response.url = `${this.origin.origin}${this.path}`;
            incomingResponse.req = this;
            this.res = incomingResponse;
            stream.on('data', chunk => {
                response.receivedSize += chunk.length;
                if (!response.push(chunk)) {
                    stream.pause();
                }
            });
            stream.once('end', () => {
                // A reset also ends the stream. An EOF that comes with an error code, including the
                // `CANCEL` of a request teardown, cut the body short, and an aborted response stays
                // aborted.
                if (!response.aborted && (stream.rstCode ?? NGHTTP2_NO_ERROR) === NGHTTP2_NO_ERROR) {
                    response.complete = true;
                    response.push(null);
                }
            });
            if (!this.emit('response', incomingResponse)) {
                response._dump();
            }
        });
        stream.on('headers', (headers, _flags, rawHeaders) => {
            this.emit('information', {
                statusCode: Number(headers[HTTP2_HEADER_STATUS]),
                statusMessage: '',
                httpVersion: '2.0',
                httpVersionMajor: 2,
                httpVersionMinor: 0,
                headers: filterHeaders(headers),
                rawHeaders: rawHeaders ? filterRawHeaders(rawHeaders) : toRawHeaders(headers),
            });
        });
        stream.on('continue', () => {
            this.emit('continue');
        });
        stream.once('trailers', (trailers, _flags, rawTrailers) => {
            if (!this.res) {
                return;
            }
            this.res.trailers = trailers;
            this.res.rawTrailers = Array.isArray(rawTrailers) ? rawTrailers : toRawHeaders(trailers);
            this.res.trailersDistinct = toDistinctHeaders(this.res.rawTrailers);
        });
        stream.once('close', () => {
            if (this.res) {
                if (this.aborted || (!this.res.aborted && !streamErrorSeen && !this.res.complete && !this.res.readableEnded)) {
                    // `abort()` and a self-initiated `destroy()` cancel the stream without an
                    // `aborted` event, so complete the response the way a premature close would.
                    // A peer reset already completed it through the stream's `aborted` event, and
                    // a stream error propagates through the request error.
                    this.res.aborted = true;
                    this.res.emit('aborted');
                    this.res.destroy();
                }
                const finish = () => {
                    this.res.emit('close');
                    this.destroy();
                    this.emit('close');
                };
                if (this.res.readable) {
                    this.res.once('end', finish);
                }
                else {
                    finish();
                }
                return;
            }
            if (!this.destroyed) {
                this.destroy(new Error('The HTTP/2 stream has been early terminated'));
                queueMicrotask(() => {
                    this.emit('close');
                });
                return;
            }
            this.destroy();
            this.emit('close');
        });
        for (const job of this.pendingJobs) {
            job.run();
        }
        this.pendingJobs = [];
        this.emit('socket', this.socket);
    }
}
const globalAgent = new Http2Agent();
const request = (input, options, callback) => new Http2ClientRequest(input, options, callback);
const getSourceOptions = (input, options) => {
    if (typeof input === 'object' && !(input instanceof URL)) {
        return input;
    }
    return typeof options === 'object' ? options : {};
};
const requestHttps = (options, callback) => {
    options.ALPNProtocols = ['http/1.1'];
    delete options.timeout;
    delete options._socketTimeout;
    delete options._timeoutPhase;
    return external_node_https_namespaceObject.request(options, callback);
};
const requestHttp1 = (options, agent, callback) => {
    if (typeof agent === 'object' && 'https' in agent) {
        options.agent = agent.https;
    }
    if (options.headers) {
        const headers = { ...options.headers };
        Reflect.deleteProperty(headers, HTTP2_HEADER_METHOD);
        Reflect.deleteProperty(headers, HTTP2_HEADER_SCHEME);
        Reflect.deleteProperty(headers, HTTP2_HEADER_PATH);
        // The test is on the value rather than on the presence of the key, so an `Object.hasOwn`
        // rewrite would forward an empty `:authority` as a host.
        // eslint-disable-next-line unicorn/no-computed-property-existence-check
        if (headers[HTTP2_HEADER_AUTHORITY] && !headers.host) {
            headers.host = headers[HTTP2_HEADER_AUTHORITY];
        }
        Reflect.deleteProperty(headers, HTTP2_HEADER_AUTHORITY);
        options.headers = headers;
    }
    return requestHttps(options, callback);
};
const requestHttp2 = (options, agent, socket, callback) => {
    options.agent = typeof agent === 'object' && 'http2' in agent ? agent.http2 : agent;
    if (socket) {
        options._reuseSocket = socket;
        options._reuseSocketShouldPool = options.createConnection === undefined;
    }
    return request(options, callback);
};
const auto = async (input, options, callback) => {
    const sourceOptions = getSourceOptions(input, options);
    const normalized = normalizeInput(input, options, callback);
    options = normalized.options;
    callback = normalized.callback;
    options.ALPNProtocols ??= ['h2', 'http/1.1'];
    options.protocol ??= 'https:';
    if (options.h2session) {
        return request(options, callback);
    }
    if (options.protocol !== 'https:') {
        options.agent = options.agent?.http;
        return external_node_http_.request(options, callback);
    }
    const agent = options.agent;
    if (hasCustomHttpsAgent(agent) && options.createConnection === undefined) {
        options.agent = agent.https;
        return requestHttps(options, callback);
    }
    const { alpnProtocol, socket } = await resolveProtocol(options, sourceOptions);
    if (alpnProtocol === 'h2') {
        return requestHttp2(options, agent, socket, callback);
    }
    socket?.destroy();
    return requestHttp1(options, agent, callback);
};
const http2Client = {
    Agent: Http2Agent,
    auto,
    globalAgent,
    request,
};
/* harmony default export */ const http2_client = (http2Client);

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/options.js


// DO NOT use destructuring for `https.request` and `http.request` as it's not compatible with `nock`.











const isAgentObject = (agent) => distribution.object(agent) && ('http' in agent || 'https' in agent || 'http2' in agent);
const getNativeAgent = (url, agent) => {
    if (!isAgentObject(agent)) {
        return agent;
    }
    return url.protocol === 'https:' ? agent.https : agent.http;
};
/**
Generic helper that wraps any assertion function to add context to error messages.
*/
function wrapAssertionWithContext(optionName, assertionFn) {
    try {
        assertionFn();
    }
    catch (error) {
        if (error instanceof Error) {
            error.message = `Option '${optionName}': ${error.message}`;
        }
        throw error;
    }
}
/**
Helper function that wraps assert.any() to provide better error messages.
When assertion fails, it includes the option name in the error message.
*/
function options_assertAny(optionName, validators, value) {
    wrapAssertionWithContext(optionName, () => {
        assert.any(validators, value);
    });
}
// A count. `Infinity` stays a valid "never" value.
function assertCount(optionName, value) {
    if (value === Infinity) {
        return;
    }
    options_assertAny(optionName, [distribution.nonNegativeInteger], value);
}
/**
Helper function that wraps assert.plainObject() to provide better error messages.
When assertion fails, it includes the option name in the error message.
*/
function options_assertPlainObject(optionName, value) {
    wrapAssertionWithContext(optionName, () => {
        assert.plainObject(value);
    });
}
function isSameOrigin(previousUrl, nextUrl) {
    return previousUrl.origin === nextUrl.origin
        && getUnixSocketPath(previousUrl) === getUnixSocketPath(nextUrl);
}
const crossOriginStripHeaders = ['host', 'cookie', 'cookie2', 'authorization', 'proxy-authorization'];
const bodyHeaderNames = ['content-length', 'content-encoding', 'content-language', 'content-location', 'content-type', 'transfer-encoding', 'digest', 'content-digest', 'repr-digest', 'last-modified'];
function usesUnixSocket(url) {
    return url.protocol === 'unix:' || getUnixSocketPath(url) !== undefined;
}
function hasCredentialInUrl(url, credential) {
    if (url instanceof URL) {
        return url[credential] !== '';
    }
    if (!distribution.string(url)) {
        return false;
    }
    try {
        return new URL(url)[credential] !== '';
    }
    catch {
        return false;
    }
}
const hasExplicitCredentialInUrlChange = (changedState, url, credential) => (changedState.has(credential)
    || ((changedState.has('url') || changedState.has('prefixUrl')) && url?.[credential] !== ''));
const hasBodyOptionChanged = (changedState) => changedState.has('body') || changedState.has('json') || changedState.has('form');
// The URL parser leaves malformed percent-escapes untouched, so decoding must not throw.
function safeDecode(value) {
    try {
        return decodeURIComponent(value);
    }
    catch {
        return value;
    }
}
const hasProtocolSlashes = (value) => /^[a-z][\d+\-.a-z]*:\/\//iv.test(value);
const hasHttpProtocolWithoutSlashes = (value) => /^https?:(?!\/\/)/iv.test(value);
const hasUnixProtocolWithoutSlashes = (value) => /^unix:/iv.test(value);
const isAbsoluteUrl = (url) => distribution.urlInstance(url) || (distribution.string(url) && (hasProtocolSlashes(url) || url.startsWith('//')));
const isSlashOrBackslash = (character) => character === '/' || character === '\\';
const startsWithSchemeRelativeSeparators = (value) => value.length > 1 && isSlashOrBackslash(value[0]) && isSlashOrBackslash(value[1]);
const stripLeadingC0ControlOrSpace = (value) => {
    let index = 0;
    while (index < value.length && value.codePointAt(index) <= 0x20) {
        index++;
    }
    return value.slice(index);
};
const removeAsciiTabOrNewline = (value) => {
    let result = '';
    for (const character of value) {
        const codePoint = character.codePointAt(0);
        if (codePoint !== 0x09 && codePoint !== 0x0A && codePoint !== 0x0D) {
            result += character;
        }
    }
    return result;
};
const assertRelativeUrlIfNeeded = (options, url) => {
    if (!options.prefixUrl || options.allowAbsoluteUrls) {
        return;
    }
    const normalizedUrl = distribution.string(url) ? stripLeadingC0ControlOrSpace(removeAsciiTabOrNewline(url)) : url;
    const isDisallowed = isAbsoluteUrl(normalizedUrl)
        || (distribution.string(normalizedUrl) && (hasHttpProtocolWithoutSlashes(normalizedUrl)
            || startsWithSchemeRelativeSeparators(normalizedUrl)
            || (options.enableUnixSockets && hasUnixProtocolWithoutSlashes(normalizedUrl))));
    if (isDisallowed) {
        throw new Error('The `url` option must be relative when `allowAbsoluteUrls` is false and `prefixUrl` is set');
    }
};
const assertUrlHasSameOriginAsPrefixUrlIfNeeded = (options, url) => {
    if (!options.prefixUrl || options.allowAbsoluteUrls) {
        return;
    }
    let prefixUrl;
    try {
        prefixUrl = new URL(options.prefixUrl);
    }
    catch {
        return;
    }
    if (isSameOrigin(prefixUrl, url)) {
        return;
    }
    throw new Error('The `url` option must stay on the same origin as `prefixUrl` when `allowAbsoluteUrls` is false');
};
const getUrlPrefixBoundary = (options) => ({
    url: options.url instanceof URL ? new URL(options.url) : undefined,
    prefixUrl: options.prefixUrl.toString(),
    allowAbsoluteUrls: options.allowAbsoluteUrls,
});
const hasUrlOrPrefixUrlBoundaryChanged = (options, currentUrl, previous) => (currentUrl.href !== previous.url?.href
    || options.prefixUrl.toString() !== previous.prefixUrl
    || options.allowAbsoluteUrls !== previous.allowAbsoluteUrls);
function applyUrlOverride(options, url, { username, password, baseUrl } = {}) {
    assertRelativeUrlIfNeeded(options, url);
    if (distribution.string(url) && options.url) {
        const resolvedUrl = new URL(url, baseUrl ?? options.url);
        url = resolvedUrl.href;
    }
    if (options.allowAbsoluteUrls) {
        options.prefixUrl = '';
        options.url = url;
    }
    else {
        const { allowAbsoluteUrls } = options;
        try {
            options.allowAbsoluteUrls = true;
            options.url = url;
        }
        finally {
            options.allowAbsoluteUrls = allowAbsoluteUrls;
        }
    }
    if (username !== undefined) {
        options.username = username;
    }
    if (password !== undefined) {
        options.password = password;
    }
    return options.url;
}
function assertValidHeaderName(name) {
    if (name.startsWith(':')) {
        throw new TypeError(`HTTP/2 pseudo-headers are not supported in \`options.headers\`: ${name}`);
    }
    // Assigning it would re-prototype the live headers object instead of adding a header.
    if (name === '__proto__') {
        throw new TypeError('The `__proto__` header name is not supported in `options.headers`');
    }
}
/**
Safely assign own properties from source to target, skipping `__proto__` to prevent prototype pollution from JSON.parse'd input.
*/
function safeObjectAssign(target, source) {
    for (const [key, value] of Object.entries(source)) {
        if (key === '__proto__') {
            continue;
        }
        Reflect.set(target, key, value);
    }
}
// `__proto__` is skipped like in `safeObjectAssign`, which never assigns it.
function assertKnownKeys(value, knownOptions, createError) {
    for (const key of Object.keys(value)) {
        if (key === '__proto__') {
            continue;
        }
        if (!Object.hasOwn(knownOptions, key)) {
            throw createError(key);
        }
    }
}
const isToughCookieJar = (cookieJar) => cookieJar.setCookie.length === 4 && cookieJar.getCookieString.length === 0;
function validateSearchParameters(searchParameters) {
    for (const [key, value] of Object.entries(searchParameters)) {
        if (key === '__proto__') {
            continue;
        }
        options_assertAny(`searchParams.${key}`, [distribution.string, distribution.number, distribution.boolean, distribution.null, distribution.undefined], value);
    }
}
const globalCache = new Map();
const dnsCacheLookups = new WeakMap();
const adaptedDnsLookups = new WeakMap();
let globalDnsCache;
const getGlobalDnsCache = () => {
    globalDnsCache ??= new DnsCache();
    return globalDnsCache;
};
// Node asks a lookup for every address when it selects a family itself, so a lookup written
// against the documented single-result shape has to be adapted.
const getAdaptedLookup = (lookup) => {
    let adapted = adaptedDnsLookups.get(lookup);
    if (!adapted) {
        adapted = (hostname, options, callback) => {
            lookup(hostname, options, (error, address, family) => {
                if (error) {
                    callback(error, address, family);
                    return;
                }
                callback(null, options.all && !Array.isArray(address) ? [{ address, family: family }] : address, family);
            });
        };
        adaptedDnsLookups.set(lookup, adapted);
    }
    return adapted;
};
const getDnsCacheLookup = (cache) => {
    let lookup = dnsCacheLookups.get(cache);
    if (!lookup) {
        // Preserve the cache receiver and stable lookup identity for HTTP/2 session reuse.
        lookup = (hostname, options, callback) => {
            cache.lookup(hostname, options, callback);
        };
        dnsCacheLookups.set(cache, lookup);
    }
    return lookup;
};
// Detects and wraps QuickLRU v7+ instances to make them compatible with the StorageAdapter interface
const wrapQuickLruIfNeeded = (value) => {
    // Check if this is QuickLRU v7+ using Symbol.toStringTag and the evict method (added in v7)
    if (value?.[Symbol.toStringTag] === 'QuickLRU' && typeof value.evict === 'function') {
        // QuickLRU v7+ uses set(key, value, {maxAge: number}) but StorageAdapter expects set(key, value, ttl)
        // Wrap it to translate the interface
        return {
            get(key) {
                return value.get(key);
            },
            set(key, cacheValue, ttl) {
                if (ttl === undefined) {
                    value.set(key, cacheValue);
                }
                else {
                    value.set(key, cacheValue, { maxAge: ttl });
                }
                return true;
            },
            delete(key) {
                return value.delete(key);
            },
            clear() {
                return value.clear();
            },
            has(key) {
                return value.has(key);
            },
        };
    }
    // QuickLRU v5 and other caches work as-is
    return value;
};
const defaultInternals = {
    request: undefined,
    agent: {
        http: undefined,
        https: undefined,
        http2: undefined,
    },
    h2session: undefined,
    decompress: true,
    timeout: {
        connect: undefined,
        lookup: undefined,
        read: undefined,
        request: undefined,
        response: undefined,
        secureConnect: undefined,
        send: undefined,
        socket: undefined,
    },
    prefixUrl: '',
    body: undefined,
    form: undefined,
    json: undefined,
    cookieJar: undefined,
    ignoreInvalidCookies: false,
    searchParams: undefined,
    dnsLookup: undefined,
    dnsCache: undefined,
    context: {},
    hooks: {
        init: [],
        beforeRequest: [],
        beforeError: [],
        beforeRedirect: [],
        beforeRetry: [],
        beforeCache: [],
        afterResponse: [],
    },
    followRedirect: true,
    maxRedirects: 10,
    cache: undefined,
    throwHttpErrors: true,
    username: '',
    password: '',
    http2: false,
    allowGetBody: false,
    allowAbsoluteUrls: true,
    copyPipedHeaders: false,
    headers: {
        'user-agent': 'got (https://github.com/sindresorhus/got)',
    },
    methodRewriting: false,
    dnsLookupIpVersion: undefined,
    parseJson: JSON.parse,
    stringifyJson: JSON.stringify,
    retry: {
        limit: 2,
        methods: [
            'GET',
            'PUT',
            'HEAD',
            'DELETE',
            'OPTIONS',
            'TRACE',
            'QUERY',
        ],
        statusCodes: [
            408,
            413,
            429,
            500,
            502,
            503,
            504,
            521,
            522,
            524,
        ],
        errorCodes: [
            'ETIMEDOUT',
            'ECONNRESET',
            'EADDRINUSE',
            'ECONNREFUSED',
            'EPIPE',
            'ENOTFOUND',
            'ENETUNREACH',
            'EAI_AGAIN',
        ],
        maxRetryAfter: undefined,
        calculateDelay: ({ computedValue }) => computedValue,
        backoffLimit: Infinity,
        noise: 100,
        enforceRetryRules: true,
    },
    localAddress: undefined,
    method: 'GET',
    createConnection: undefined,
    cacheOptions: {
        shared: undefined,
        cacheHeuristic: undefined,
        immutableMinTimeToLive: undefined,
        ignoreCargoCult: undefined,
    },
    https: {
        alpnProtocols: undefined,
        rejectUnauthorized: undefined,
        checkServerIdentity: undefined,
        serverName: undefined,
        certificateAuthority: undefined,
        key: undefined,
        certificate: undefined,
        passphrase: undefined,
        pfx: undefined,
        ciphers: undefined,
        honorCipherOrder: undefined,
        minVersion: undefined,
        maxVersion: undefined,
        signatureAlgorithms: undefined,
        tlsSessionLifetime: undefined,
        dhparam: undefined,
        ecdhCurve: undefined,
        certificateRevocationLists: undefined,
        secureOptions: undefined,
    },
    encoding: undefined,
    resolveBodyOnly: false,
    isStream: false,
    responseType: 'text',
    url: undefined,
    pagination: {
        transform(response) {
            if (response.request.options.responseType === 'json') {
                return response.body;
            }
            const body = response.request.options.responseType === 'buffer'
                ? decodeUint8Array(response.body, response.request.options.encoding)
                : response.body;
            return response.request.options.parseJson(body);
        },
        paginate({ response }) {
            const rawLinkHeader = response.headers.link;
            if (typeof rawLinkHeader !== 'string' || rawLinkHeader.trim() === '') {
                return false;
            }
            const parsed = parseLinkHeader(rawLinkHeader);
            // The `rel` parameter is a space-separated list of relation types compared case-insensitively. See https://www.rfc-editor.org/rfc/rfc8288#section-3.3
            // Ignore links with an anchor instead of changing their context (RFC 8288, section 3.2).
            const next = parsed.find(entry => !Object.hasOwn(entry.parameters, 'anchor') && entry.parameters.rel?.replaceAll('"', '').toLowerCase().split(/\s+/v).includes('next'));
            if (next) {
                return {
                    url: next.reference,
                };
            }
            return false;
        },
        filter: () => true,
        shouldContinue: () => true,
        countLimit: Infinity,
        backoff: 0,
        requestLimit: 10_000,
        stackAllItems: false,
    },
    setHost: true,
    maxHeaderSize: undefined,
    signal: undefined,
    enableUnixSockets: false,
    strictContentLength: true,
};
const cloneHeaderValue = (value) => {
    if (Array.isArray(value)) {
        return [...value];
    }
    return typeof value === 'number' ? String(value) : value;
};
// `__proto__` is skipped so a `JSON.parse`d headers object cannot become a request header.
const cloneHeaders = (headers) => Object.fromEntries(Object.entries(headers).filter(([name]) => name !== '__proto__').map(([name, value]) => [name, cloneHeaderValue(value)]));
// TLS option lists and key/PFX descriptors must not be shared between requests.
const cloneHttps = (https) => Object.fromEntries(Object.entries(https).map(([key, value]) => [key, Array.isArray(value) ? value.map(item => distribution.plainObject(item) ? { ...item } : item) : value]));
const cloneInternals = (internals) => {
    const { hooks, retry } = internals;
    const result = {
        ...internals,
        url: internals.url ? new URL(internals.url) : undefined,
        context: { ...internals.context },
        cacheOptions: { ...internals.cacheOptions },
        https: cloneHttps(internals.https),
        agent: { ...internals.agent },
        headers: cloneHeaders(internals.headers),
        retry: {
            ...retry,
            errorCodes: [...retry.errorCodes],
            methods: [...retry.methods],
            statusCodes: [...retry.statusCodes],
        },
        timeout: { ...internals.timeout },
        hooks: Object.fromEntries(Object.entries(hooks).map(([event, handlers]) => [event, [...handlers]])),
        searchParams: internals.searchParams ? new URLSearchParams(internals.searchParams) : undefined,
        pagination: { ...internals.pagination },
    };
    return result;
};
const cloneRaw = (raw) => {
    const result = { ...raw };
    // The result is a copy that is meant to be filled in, so assigning onto it is the point.
    // eslint-disable-next-line unicorn/no-immediate-mutation
    if (Object.hasOwn(raw, 'https') && distribution.object(raw.https)) {
        result.https = cloneHttps(raw.https);
    }
    for (const key of ['context', 'cacheOptions', 'agent', 'timeout', 'pagination']) {
        if (Object.hasOwn(raw, key) && distribution.object(raw[key])) {
            result[key] = { ...raw[key] };
        }
    }
    if (Object.hasOwn(raw, 'headers') && distribution.object(raw.headers)) {
        result.headers = cloneHeaders(raw.headers);
    }
    if (Object.hasOwn(raw, 'retry') && distribution.object(raw.retry)) {
        const { retry } = raw;
        result.retry = { ...retry };
        if (distribution.array(retry.errorCodes)) {
            result.retry.errorCodes = [...retry.errorCodes];
        }
        if (distribution.array(retry.methods)) {
            result.retry.methods = [...retry.methods];
        }
        if (distribution.array(retry.statusCodes)) {
            result.retry.statusCodes = [...retry.statusCodes];
        }
    }
    if (Object.hasOwn(raw, 'hooks') && distribution.object(raw.hooks)) {
        const { hooks } = raw;
        result.hooks = {
            ...hooks,
        };
        for (const event of Object.keys(defaultInternals.hooks)) {
            const handlers = hooks[event];
            if (distribution.array(handlers)) {
                // @ts-expect-error Indexing by a widened `keyof Hooks` loses the correlation to `handlers`'s specific array type.
                result.hooks[event] = [...handlers];
            }
        }
    }
    if (Object.hasOwn(raw, 'searchParams') && raw.searchParams) {
        if (distribution.string(raw.searchParams)) {
            result.searchParams = raw.searchParams;
        }
        else if (raw.searchParams instanceof URLSearchParams) {
            result.searchParams = new URLSearchParams(raw.searchParams);
        }
        else {
            // A `URL`, `Map` or `Set` is an object without enumerable own keys, so it has to be
            // rejected before the spread turns it into an empty object.
            options_assertPlainObject('searchParams', raw.searchParams);
            result.searchParams = { ...raw.searchParams };
        }
    }
    return result;
};
// The HTTP/2 client uses one timer for these phases, so the smallest value decides both when
// it fires and which phase the resulting error reports. Delays Node.js cannot arm mean no
// constraint and are excluded instead of winning the minimum.
const getHttp2Timeout = (internals) => {
    const delays = [
        ['lookup', internals.timeout.lookup],
        ['connect', internals.timeout.connect],
        ['secureConnect', internals.timeout.secureConnect],
        ['request', internals.timeout.request],
    ].filter((entry) => typeof entry[1] === 'number' && isArmableTimerDelay(entry[1]));
    if (delays.length === 0) {
        return undefined;
    }
    let lowest = delays[0];
    for (const entry of delays) {
        if (entry[1] < lowest[1]) {
            lowest = entry;
        }
    }
    return { timeout: lowest[1], phase: lowest[0] };
};
const usesHttp2Alpn = (internals, url) => {
    const usesCustomHttpsAgent = internals.agent.https !== undefined
        && internals.agent.https !== false
        && internals.createConnection === undefined;
    return internals.http2
        && url.protocol === 'https:'
        && !internals.h2session
        && !usesCustomHttpsAgent;
};
const trackReplacedHeaderMutations = (trackedStateMutations, previousHeaders, nextHeaders) => {
    if (!trackedStateMutations) {
        return;
    }
    for (const header of new Set([...Object.keys(previousHeaders), ...Object.keys(nextHeaders)])) {
        if (previousHeaders[header] !== nextHeaders[header]) {
            trackedStateMutations.add(header);
        }
    }
};
const init = (options, withOptions, self) => {
    const initHooks = options.hooks?.init;
    if (initHooks) {
        for (const hook of initHooks) {
            hook(withOptions, self);
        }
    }
};
// Keys never merged: got.extend() internals, url (passed as first arg), control flags, security
const nonMergeableKeys = new Set(['mutableDefaults', 'handlers', 'url', 'preserveHooks', 'isStream', '__proto__']);
// Options where an explicit `undefined` resets the inherited value instead of keeping it.
const resettableByUndefined = new Set(['searchParams', 'cookieJar']);
// Whether the options supply a body, JSON, or form payload explicitly.
const hasExplicitBodyOption = (options) => (Object.hasOwn(options, 'body') && options.body !== undefined)
    || (Object.hasOwn(options, 'json') && options.json !== undefined)
    || (Object.hasOwn(options, 'form') && options.form !== undefined);
class Options {
    #internals;
    #headersProxy;
    #merging = false;
    #init;
    #explicitHeaders;
    #trackedStateMutations;
    constructor(input, options, defaults) {
        options_assertAny('input', [distribution.string, distribution.urlInstance, distribution.object, distribution.undefined], input);
        options_assertAny('options', [distribution.object, distribution.undefined], options);
        options_assertAny('defaults', [distribution.object, distribution.undefined], defaults);
        if (input instanceof Options || options instanceof Options) {
            throw new TypeError('The defaults must be passed as the third argument');
        }
        if (defaults) {
            this.#internals = cloneInternals(defaults.#internals);
            this.#init = [...defaults.#init];
            this.#explicitHeaders = new Set(defaults.#explicitHeaders);
        }
        else {
            this.#internals = cloneInternals(defaultInternals);
            this.#init = [];
            this.#explicitHeaders = new Set();
        }
        this.#headersProxy = this.#createHeadersProxy();
        // This rule allows `finally` to be considered more important.
        // Meaning no matter the error thrown in the `try` block,
        // if `finally` throws then the `finally` error will be thrown.
        //
        // Yes, we want this. If we set `url` first, then the `url.searchParams`
        // would get merged. Instead we set the `searchParams` first, then
        // `url.searchParams` is overwritten as expected.
        //
        /* eslint-disable no-unsafe-finally -- `finally` is used intentionally here to ensure `url` is always set last, overwriting any merged searchParams */
        try {
            if (distribution.plainObject(input)) {
                // The plain object carries the url, so one in the second argument would be
                // silently ignored, the same conflict the string input reports.
                if (options?.url !== undefined) {
                    throw new TypeError('The `url` option is mutually exclusive with the `input` argument');
                }
                try {
                    this.merge(input);
                    this.merge(options);
                }
                finally {
                    this.url = input.url;
                }
            }
            else {
                try {
                    this.merge(options);
                }
                finally {
                    if (options?.url !== undefined) {
                        if (input === undefined) {
                            this.url = options.url;
                        }
                        else {
                            throw new TypeError('The `url` option is mutually exclusive with the `input` argument');
                        }
                    }
                    else if (input !== undefined) {
                        this.url = input;
                    }
                }
            }
        }
        catch (error) {
            const optionsError = normalizeError(error);
            optionsError.options = this;
            throw optionsError;
        }
        /* eslint-enable no-unsafe-finally */
    }
    merge(options) {
        if (!options) {
            return;
        }
        if (options instanceof Options) {
            // Create a copy of the #init array to avoid infinite loop
            // when merging an Options instance with itself
            const initArray = [...options.#init];
            for (const init of initArray) {
                this.merge(init);
            }
            return;
        }
        options = cloneRaw(options);
        init(this, options, this);
        init(options, options, this);
        this.#merging = true;
        try {
            let push = false;
            for (const key of Object.keys(options)) {
                if (nonMergeableKeys.has(key)) {
                    continue;
                }
                if (!optionNames.has(key)) {
                    throw new Error(`Unexpected option: ${key}`);
                }
                // @ts-expect-error Type 'unknown' is not assignable to type 'never'.
                const value = options[key];
                if (value === undefined && !resettableByUndefined.has(key)) {
                    continue;
                }
                // @ts-expect-error Type 'unknown' is not assignable to type 'never'.
                this[key] = value;
                push = true;
            }
            if (push) {
                this.#init.push(options);
            }
        }
        finally {
            this.#merging = false;
        }
    }
    /**
    Custom request function.

    @default Got's built-in HTTP/1.1 or HTTP/2 request implementation
    */
    get request() {
        return this.#internals.request;
    }
    set request(value) {
        options_assertAny('request', [distribution.function, distribution.undefined], value);
        this.#internals.request = value;
    }
    /**
    An object representing `http`, `https` and `http2` keys for [`http.Agent`](https://nodejs.org/api/http.html#http_class_http_agent), [`https.Agent`](https://nodejs.org/api/https.html#https_class_https_agent), and Got's internal HTTP/2 session pool.
    This is necessary because a request to one protocol might redirect to another.
    In such a scenario, Got will switch over to the right protocol agent for you.
    When `http2` is enabled, a custom `agent.https` instance makes Got use the native HTTP/1.1 request path because Got's built-in HTTP/2 session pool does not support custom HTTPS agents.

    If a key is not present, it will default to a global agent.

    @example
    ```
    import got from 'got';
    import HttpAgent from 'agentkeepalive';

    const {HttpsAgent} = HttpAgent;

    await got('https://sindresorhus.com', {
        agent: {
            http: new HttpAgent(),
            https: new HttpsAgent()
        }
    });
    ```
    */
    get agent() {
        return this.#internals.agent;
    }
    set agent(value) {
        options_assertPlainObject('agent', value);
        for (const key of Object.keys(value)) {
            if (key === '__proto__') {
                continue;
            }
            if (!Object.hasOwn(defaultInternals.agent, key)) {
                throw new TypeError(`Unexpected agent option: ${key}`);
            }
            const validators = key === 'http2'
                ? [distribution.undefined, (v) => v === false]
                : [distribution.object, distribution.undefined, (v) => v === false];
            options_assertAny(`agent.${key}`, validators, value[key]);
        }
        this.#mergeOrReplace('agent', value);
    }
    get h2session() {
        return this.#internals.h2session;
    }
    set h2session(value) {
        options_assertAny('h2session', [distribution.object, distribution.undefined], value);
        this.#internals.h2session = value;
    }
    /**
    Decompress the response automatically.

    This will set the `accept-encoding` header to `gzip, deflate, br` unless you set it yourself.

    If this is disabled, a compressed response is returned as a `Uint8Array`.
    This may be useful if you want to handle decompression yourself or stream the raw compressed data.

    @default true
    */
    get decompress() {
        return this.#internals.decompress;
    }
    set decompress(value) {
        assert.boolean(value);
        this.#internals.decompress = value;
    }
    /**
    Milliseconds to wait for the server to end the response before aborting the request with `got.TimeoutError` error (a.k.a. `request` property).
    By default, there's no timeout.

    This also accepts an `object` with the following fields to constrain the duration of each phase of the request lifecycle:

    - `lookup` starts when a socket is assigned and ends when the hostname has been resolved.
        Does not apply when using a Unix domain socket.
    - `connect` starts when `lookup` completes (or when the socket is assigned if lookup does not apply to the request) and ends when the socket is connected.
    - `secureConnect` starts when `connect` completes and ends when the handshaking process completes (HTTPS only).
    - `socket` starts when the socket is connected. See [request.setTimeout](https://nodejs.org/api/http.html#http_request_settimeout_timeout_callback).
    - `response` starts when the request has been written to the socket and ends when the response headers are received.
    - `send` starts when the socket is connected and ends with the request has been written to the socket.
    - `request` starts when the request is initiated and ends when the response's end event fires.
    */
    get timeout() {
        // We always return `Delays` here.
        // It has to be `Delays | number`, otherwise TypeScript will error because the getter and the setter have incompatible types.
        return this.#internals.timeout;
    }
    set timeout(value) {
        options_assertPlainObject('timeout', value);
        for (const key of Object.keys(value)) {
            if (key === '__proto__') {
                continue;
            }
            if (!Object.hasOwn(defaultInternals.timeout, key)) {
                throw new Error(`Unexpected timeout option: ${key}`);
            }
            options_assertAny(`timeout.${key}`, [distribution.number, distribution.undefined], value[key]);
        }
        this.#mergeOrReplace('timeout', value);
    }
    /**
    When specified, `prefixUrl` will be prepended to relative string `url` input.
    The prefix must be an absolute URL, since Got has no base to resolve it against. It must not contain a query string or a fragment.
    A trailing slash `/` is optional - one will be added automatically.

    __Note__: Absolute string URLs and URL instances bypass `prefixUrl` by default. Other instance defaults, including headers, still apply. For untrusted URLs, set `allowAbsoluteUrls` to `false`.

    __Note__: Got cannot know which custom headers are sensitive. If you use headers like `x-api-key`, only pass trusted URLs or use `allowAbsoluteUrls: false`.

    __Note__: Leading slashes in `input` are disallowed when using this option to enforce consistency and avoid confusion.
    For example, when the prefix URL is `https://example.com/foo` and the input is `/bar`, there's ambiguity whether the resulting URL would become `https://example.com/foo/bar` or `https://example.com/bar`.
    The latter is used by browsers.

    __Tip__: Useful when used with `got.extend()` to create niche-specific Got instances.

    __Tip__: You can change `prefixUrl` using hooks as long as the URL still includes the `prefixUrl`.
    If the URL doesn't include it anymore, it will throw.

    @example
    ```
    import got from 'got';

    await got('unicorn', {prefixUrl: 'https://cats.com'});
    //=> 'https://cats.com/unicorn'

    const instance = got.extend({
        prefixUrl: 'https://google.com'
    });

    await instance('unicorn', {
        hooks: {
            beforeRequest: [
                options => {
                    options.prefixUrl = 'https://cats.com';
                }
            ]
        }
    });
    //=> 'https://cats.com/unicorn'
    ```
    */
    get prefixUrl() {
        // We always return `string` here.
        // It has to be `string | URL`, otherwise TypeScript will error because the getter and the setter have incompatible types.
        return this.#internals.prefixUrl;
    }
    set prefixUrl(value) {
        options_assertAny('prefixUrl', [distribution.string, distribution.urlInstance], value);
        if (value === '') {
            this.#internals.prefixUrl = '';
            return;
        }
        value = value.toString();
        if (hasProtocolSlashes(value)) {
            // The prefix is concatenated with the path, so a query or a fragment would swallow it.
            // A scheme-relative prefix has no base to parse against and fails at request time.
            const prefix = new URL(value);
            if (prefix.search !== '' || prefix.hash !== '') {
                throw new TypeError('The `prefixUrl` option must not contain a query string or a fragment');
            }
        }
        if (!value.endsWith('/')) {
            value += '/';
        }
        if (this.#internals.prefixUrl && this.#internals.url) {
            const url = this.#internals.url;
            const previousUrl = new URL(url);
            const { username, password } = url;
            const urlWithoutCredentials = new URL(url);
            urlWithoutCredentials.username = '';
            urlWithoutCredentials.password = '';
            let prefixUrlWithoutCredentials = this.#internals.prefixUrl.toString();
            let hasNewPrefixCredentials = false;
            if (isAbsoluteUrl(value)) {
                const nextPrefixUrl = new URL(value);
                hasNewPrefixCredentials = nextPrefixUrl.username !== '' || nextPrefixUrl.password !== '';
            }
            if (isAbsoluteUrl(this.#internals.prefixUrl)) {
                const prefixUrl = new URL(this.#internals.prefixUrl);
                prefixUrl.username = '';
                prefixUrl.password = '';
                prefixUrlWithoutCredentials = prefixUrl.href;
            }
            if (!urlWithoutCredentials.href.startsWith(prefixUrlWithoutCredentials)) {
                throw new Error('The `url` option must include the `prefixUrl` option');
            }
            url.href = value + urlWithoutCredentials.href.slice(prefixUrlWithoutCredentials.length);
            const isSameOriginUrl = isSameOrigin(previousUrl, url);
            if (username && !url.username && isSameOriginUrl && !hasNewPrefixCredentials) {
                url.username = username;
            }
            if (password && !url.password && isSameOriginUrl && !hasNewPrefixCredentials) {
                url.password = password;
            }
        }
        this.#internals.prefixUrl = value;
        this.#trackedStateMutations?.add('prefixUrl');
    }
    /**
    __Note #1__: The `body` option cannot be used with the `json` or `form` option.

    __Note #2__: If you provide this option, `got.stream()` will be read-only.

    __Note #3__: If you provide a payload with the `GET` or `HEAD` method, it will throw a `TypeError` unless the method is `GET` and the `allowGetBody` option is set to `true`.

    __Note #4__: This option is not enumerable and will not be merged with the instance defaults.

    The `content-length` header will be automatically set if `body` is a `string` or an `ArrayBufferView` (including `Uint8Array`, other typed arrays, and `DataView`), and `content-length` and `transfer-encoding` are not manually set in `options.headers`.

    Since Got 12, the `content-length` is not automatically set when `body` is a `fs.createReadStream`.

    You can use `Iterable` and `AsyncIterable` objects as request body, including Web [`ReadableStream`](https://developer.mozilla.org/en-US/docs/Web/API/ReadableStream):

    @example
    ```
    import got from 'got';

    // Using an async generator
    async function* generateData() {
        yield 'Hello, ';
        yield 'world!';
    }

    await got.post('https://httpbin.org/anything', {
        body: generateData()
    });
    ```
    */
    get body() {
        return this.#internals.body;
    }
    set body(value) {
        options_assertAny('body', [distribution.string, distribution.buffer, distribution.nodeStream, distribution.generator, distribution.asyncGenerator, distribution.iterable, distribution.asyncIterable, ArrayBuffer.isView, distribution.undefined], value);
        if (distribution.nodeStream(value)) {
            assert.truthy(value.readable);
        }
        if (value !== undefined) {
            assert.undefined(this.#internals.form);
            assert.undefined(this.#internals.json);
        }
        this.#internals.body = value;
        this.#trackedStateMutations?.add('body');
    }
    /**
    The form body is converted to a query string using [`(new URLSearchParams(object)).toString()`](https://nodejs.org/api/url.html#url_constructor_new_urlsearchparams_obj).

    If the `Content-Type` header is not present, it will be set to `application/x-www-form-urlencoded`.

    __Note #1__: If you provide this option, `got.stream()` will be read-only.

    __Note #2__: This option is not enumerable and will not be merged with the instance defaults.
    */
    get form() {
        return this.#internals.form;
    }
    set form(value) {
        options_assertAny('form', [distribution.plainObject, distribution.undefined], value);
        if (value !== undefined) {
            assert.undefined(this.#internals.body);
            assert.undefined(this.#internals.json);
        }
        this.#internals.form = value;
        this.#trackedStateMutations?.add('form');
    }
    /**
    JSON request body. If the `content-type` header is not set, it will be set to `application/json`.

    __Important__: This option only affects the request body you send to the server. To parse the response as JSON, you must either call `.json()` on the promise or set `responseType: 'json'` in the options.

    __Note #1__: If you provide this option, `got.stream()` will be read-only.

    __Note #2__: This option is not enumerable and will not be merged with the instance defaults.
    */
    get json() {
        return this.#internals.json;
    }
    set json(value) {
        if (value !== undefined) {
            assert.undefined(this.#internals.body);
            assert.undefined(this.#internals.form);
        }
        this.#internals.json = value;
        this.#trackedStateMutations?.add('json');
    }
    /**
    The URL to request, as a string or a [WHATWG `URL`](https://nodejs.org/api/url.html#url_class_url).

    Pass it as the first argument to `got(url, options)`. Setting `url` inside an options object is not supported.

    Properties from `options` will override properties in the parsed `url`.

    If no protocol is specified, it will throw a `TypeError`.

    __Note__: The query string is **not** parsed as search params.

    @example
    ```
    await got('https://example.com/?query=a b'); //=> https://example.com/?query=a%20b
    await got('https://example.com/', {searchParams: {query: 'a b'}}); //=> https://example.com/?query=a+b

    // The query string is overridden by `searchParams`
    await got('https://example.com/?query=a b', {searchParams: {query: 'a b'}}); //=> https://example.com/?query=a+b
    ```
    */
    get url() {
        return this.#internals.url;
    }
    set url(value) {
        options_assertAny('url', [distribution.string, distribution.urlInstance, distribution.undefined], value);
        if (value === undefined) {
            this.#internals.url = undefined;
            this.#trackedStateMutations?.add('url');
            return;
        }
        if (distribution.string(value) && value.startsWith('/')) {
            throw new Error('`url` must not start with a slash');
        }
        const valueString = value.toString();
        if (distribution.string(value)
            && !this.prefixUrl
            // The URL parser strips leading C0 control characters and spaces, so the guard has
            // to see the normalized string or whitespace would smuggle a protocol past it.
            && hasHttpProtocolWithoutSlashes(stripLeadingC0ControlOrSpace(removeAsciiTabOrNewline(value)))) {
            throw new Error('`url` protocol must be followed by `//`');
        }
        // Detect if URL is already absolute.
        const isAbsolute = isAbsoluteUrl(value);
        assertRelativeUrlIfNeeded(this, value);
        // Only concatenate prefixUrl if the URL is relative
        const urlString = isAbsolute ? valueString : `${this.prefixUrl}${valueString}`;
        const url = new URL(urlString);
        // Validate before storing, so a rejected url never stays on the instance.
        if (usesUnixSocket(url) && !this.#internals.enableUnixSockets) {
            throw new Error('Using UNIX domain sockets but option `enableUnixSockets` is not enabled');
        }
        if (url.protocol === 'unix:') {
            url.href = `http://unix${url.pathname}${url.search}`;
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') {
            const error = new Error(`Unsupported protocol: ${url.protocol}`);
            error.code = 'ERR_UNSUPPORTED_PROTOCOL';
            throw error;
        }
        this.#internals.url = url;
        this.#trackedStateMutations?.add('url');
        if (this.#internals.username) {
            url.username = this.#internals.username;
            this.#internals.username = '';
        }
        if (this.#internals.password) {
            url.password = this.#internals.password;
            this.#internals.password = '';
        }
        if (this.#internals.searchParams) {
            url.search = this.#internals.searchParams.toString();
            this.#internals.searchParams = undefined;
        }
    }
    /**
    Cookie support. You don't have to care about parsing or how to store them.

    __Note__: If you provide this option, `options.headers.cookie` will be overridden.
    */
    get cookieJar() {
        return this.#internals.cookieJar;
    }
    set cookieJar(value) {
        options_assertAny('cookieJar', [distribution.object, distribution.undefined], value);
        if (value === undefined) {
            this.#internals.cookieJar = undefined;
            return;
        }
        const { setCookie, getCookieString } = value;
        assert.function(setCookie);
        assert.function(getCookieString);
        /* istanbul ignore next: Horrible `tough-cookie` v3 check */
        if (isToughCookieJar(value)) {
            this.#internals.cookieJar = {
                setCookie: (0,external_node_util_.promisify)(value.setCookie.bind(value)),
                getCookieString: (0,external_node_util_.promisify)(value.getCookieString.bind(value)),
            };
        }
        else {
            this.#internals.cookieJar = value;
        }
    }
    /**
    You can abort the `request` using [`AbortController`](https://developer.mozilla.org/en-US/docs/Web/API/AbortController).

    @example
    ```
    import got from 'got';

    const abortController = new AbortController();

    const request = got('https://httpbin.org/anything', {
        signal: abortController.signal
    });

    setTimeout(() => {
        abortController.abort();
    }, 100);
    ```
    */
    get signal() {
        return this.#internals.signal;
    }
    set signal(value) {
        options_assertAny('signal', [distribution.object, distribution.undefined], value);
        this.#internals.signal = value;
    }
    /**
    Ignore invalid cookies instead of throwing an error.
    Only useful when the `cookieJar` option has been set. Not recommended.

    @default false
    */
    get ignoreInvalidCookies() {
        return this.#internals.ignoreInvalidCookies;
    }
    set ignoreInvalidCookies(value) {
        assert.boolean(value);
        this.#internals.ignoreInvalidCookies = value;
    }
    /**
    Query string that will be added to the request URL.
    This will override the query string in `url`.

    If you need to pass in an array, you can do it using a `URLSearchParams` instance.

    @example
    ```
    import got from 'got';

    const searchParams = new URLSearchParams([['key', 'a'], ['key', 'b']]);

    await got('https://example.com', {searchParams});

    console.log(searchParams.toString());
    //=> 'key=a&key=b'
    ```
    */
    get searchParams() {
        if (Object.isFrozen(this.#internals)) {
            // A frozen instance is read-only, so a copy is handed out. Writing to it is
            // discarded instead of reaching the live parameters or the url they belong to.
            const { url } = this.#internals;
            return new URLSearchParams(url ? url.searchParams : this.#internals.searchParams);
        }
        if (this.#internals.url) {
            return this.#internals.url.searchParams;
        }
        this.#internals.searchParams ??= new URLSearchParams();
        return this.#internals.searchParams;
    }
    set searchParams(value) {
        options_assertAny('searchParams', [distribution.string, distribution.object, distribution.undefined], value);
        // A frozen instance is read-only, and the url it holds is part of that state. Without
        // this the assignment below would rewrite the query string of a frozen url instead of
        // failing like every other frozen option does.
        if (Object.isFrozen(this.#internals)) {
            throw new TypeError('Cannot assign to read only option `searchParams`');
        }
        const url = this.#internals.url;
        if (value === undefined) {
            this.#internals.searchParams = undefined;
            if (url) {
                url.search = '';
            }
            return;
        }
        const searchParameters = this.searchParams;
        let updated;
        if (distribution.string(value) || value instanceof URLSearchParams) {
            // A `URLSearchParams` is cloned so the caller-owned object is not stored by reference.
            updated = new URLSearchParams(value);
        }
        else {
            // A `URL`, `Map` or `Set` is an object without enumerable own keys, which would
            // silently erase the query string instead of being reported.
            options_assertPlainObject('searchParams', value);
            validateSearchParameters(value);
            updated = new URLSearchParams();
            for (const [key, entry] of Object.entries(value)) {
                if (key === '__proto__') {
                    continue;
                }
                if (entry === null) {
                    updated.append(key, '');
                }
                else if (entry === undefined) {
                    searchParameters.delete(key);
                }
                else {
                    updated.append(key, entry);
                }
            }
        }
        if (this.#merging) {
            // These keys will be replaced
            for (const key of updated.keys()) {
                searchParameters.delete(key);
            }
            for (const [key, value] of updated) {
                searchParameters.append(key, value);
            }
        }
        else if (url) {
            // Overrides the query string in the URL.
            url.search = updated.toString();
        }
        else {
            this.#internals.searchParams = updated;
        }
    }
    get dnsLookup() {
        return this.#internals.dnsLookup;
    }
    set dnsLookup(value) {
        options_assertAny('dnsLookup', [distribution.function, distribution.undefined], value);
        this.#internals.dnsLookup = value;
    }
    /**
    A DNS cache instance used for making DNS lookups.
    Useful when making lots of requests to different *public* hostnames.
    Set to `true` to use Got's shared DNS cache.
    When using `got.extend()`, set to `false` to opt out of a DNS cache configured by the parent instance.

    Got's built-in DNS cache uses `dns.resolve4(…)` and `dns.resolve6(…)` under the hood and falls back to `dns.lookup(…)` when no DNS records are found, which may lead to additional delay.
    Because it resolves A and AAAA records separately, it cannot preserve OS-specific `verbatim` address ordering from `dns.lookup(…)`.
    If present, `clear(hostname?)` can be called by user code to clear cached entries.

    __Note__: This should stay disabled when making requests to internal hostnames such as `localhost`, `database.local` etc.

    @default undefined
    */
    get dnsCache() {
        return this.#internals.dnsCache;
    }
    set dnsCache(value) {
        options_assertAny('dnsCache', [distribution.object, distribution.boolean, distribution.undefined], value);
        if (value === true) {
            this.#internals.dnsCache = getGlobalDnsCache();
        }
        else if (value === false) {
            this.#internals.dnsCache = undefined;
        }
        else {
            if (value !== undefined) {
                options_assertAny('dnsCache.lookup', [distribution.function], value.lookup);
                options_assertAny('dnsCache.clear', [distribution.function, distribution.undefined], value.clear);
            }
            this.#internals.dnsCache = value;
        }
    }
    /**
    User data. `context` is shallow merged and enumerable. If it contains non-enumerable properties they will NOT be merged.

    @example
    ```
    import got from 'got';

    const instance = got.extend({
        hooks: {
            beforeRequest: [
                options => {
                    if (!options.context || !options.context.token) {
                        throw new Error('Token required');
                    }

                    options.headers.token = options.context.token;
                }
            ]
        }
    });

    const context = {
        token: 'secret'
    };

    const response = await instance('https://httpbin.org/headers', {context});

    // Let's see the headers
    console.log(response.body);
    ```
    */
    get context() {
        return this.#internals.context;
    }
    set context(value) {
        assert.object(value);
        this.#mergeOrReplace('context', value);
    }
    /**
    Hooks allow modifications during the request lifecycle.
    Hook functions may be async and are run serially.
    */
    get hooks() {
        return this.#internals.hooks;
    }
    set hooks(value) {
        assert.object(value);
        for (const knownHookEvent of Object.keys(value)) {
            if (knownHookEvent === '__proto__') {
                continue;
            }
            if (!Object.hasOwn(this.#internals.hooks, knownHookEvent)) {
                throw new Error(`Unexpected hook event: ${knownHookEvent}`);
            }
            const typedKnownHookEvent = knownHookEvent;
            const hooks = value[typedKnownHookEvent];
            options_assertAny(`hooks.${knownHookEvent}`, [distribution.array, distribution.undefined], hooks);
            // An `undefined` value is ignored, matching every other option.
            if (!hooks) {
                continue;
            }
            for (const hook of hooks) {
                assert.function(hook);
            }
            if (this.#merging) {
                // @ts-expect-error Indexing by a widened `keyof Hooks` loses the correlation to `hooks`'s specific array type.
                this.#internals.hooks[typedKnownHookEvent].push(...hooks);
            }
            else {
                // @ts-expect-error Indexing by a widened `keyof Hooks` loses the correlation to `hooks`'s specific array type.
                this.#internals.hooks[knownHookEvent] = [...hooks];
            }
        }
    }
    /**
    Whether redirect responses should be followed automatically.

    Optionally, pass a function to dynamically decide based on the response object. The function is only called for 3xx responses, and an unchanged function is evaluated only once per response.

    Note that if a `303` is sent by the server in response to any request type (`POST`, `DELETE`, etc.), Got will automatically request the resource pointed to in the location header via `GET`.
    This is in accordance with [the spec](https://tools.ietf.org/html/rfc7231#section-6.4.4). You can optionally turn on this behavior also for other redirect codes - see `methodRewriting`.
    On cross-origin redirects, Got strips `host`, `cookie`, `cookie2`, `authorization`, and `proxy-authorization`. When a redirect rewrites the request to `GET`, Got also strips request body headers. Use `hooks.beforeRedirect` for app-specific sensitive headers.

    @default true
    */
    get followRedirect() {
        return this.#internals.followRedirect;
    }
    set followRedirect(value) {
        options_assertAny('followRedirect', [distribution.boolean, distribution.function], value);
        this.#internals.followRedirect = value;
    }
    /**
    If exceeded, the request will be aborted and a `MaxRedirectsError` will be thrown.

    @default 10
    */
    get maxRedirects() {
        return this.#internals.maxRedirects;
    }
    set maxRedirects(value) {
        assertCount('maxRedirects', value);
        this.#internals.maxRedirects = value;
    }
    /**
    A cache adapter instance for storing cached response data.

    @default undefined
    */
    get cache() {
        return this.#internals.cache;
    }
    set cache(value) {
        options_assertAny('cache', [distribution.object, distribution.string, distribution.boolean, distribution.undefined], value);
        if (value === true) {
            this.#internals.cache = globalCache;
        }
        else if (value === false) {
            this.#internals.cache = undefined;
        }
        else {
            this.#internals.cache = wrapQuickLruIfNeeded(value);
        }
    }
    /**
    Determines if a `got.HTTPError` is thrown for unsuccessful responses.

    If this is disabled, requests that encounter an error status code will be resolved with the `response` instead of throwing.
    This may be useful if you are checking for resource availability and are expecting error responses.

    @default true
    */
    get throwHttpErrors() {
        return this.#internals.throwHttpErrors;
    }
    set throwHttpErrors(value) {
        assert.boolean(value);
        this.#internals.throwHttpErrors = value;
    }
    get username() {
        return this.#getCredential('username');
    }
    set username(value) {
        assert.string(value);
        this.#setCredential('username', value);
    }
    get password() {
        return this.#getCredential('password');
    }
    set password(value) {
        assert.string(value);
        this.#setCredential('password', value);
    }
    /**
    If set to `true`, Got will additionally accept HTTP/2 requests.

    It will choose either HTTP/1.1 or HTTP/2 depending on the ALPN protocol. When a custom `agent.https` instance is set, Got uses that native HTTPS agent directly and skips HTTP/2 negotiation.

    __Note__: If `options.request` returns a request or response, it controls the transport and Got's HTTP/2 client is bypassed. Return `undefined` to fall back to Got's built-in transport.

    @default false

    @example
    ```
    import got from 'got';

    const {headers} = await got('https://nghttp2.org/httpbin/anything', {http2: true});

    console.log(headers.via);
    //=> '2 nghttpx'
    ```
    */
    get http2() {
        return this.#internals.http2;
    }
    set http2(value) {
        assert.boolean(value);
        this.#internals.http2 = value;
    }
    /**
    Set this to `true` to allow sending body for the `GET` method.
    This option is only meant to interact with non-compliant servers when you have no other choice.

    __Note__: The [RFC 7231](https://tools.ietf.org/html/rfc7231#section-4.3.1) doesn't specify any particular behavior for the GET method having a payload, therefore __it's considered an [anti-pattern](https://en.wikipedia.org/wiki/Anti-pattern)__.

    @default false
    */
    get allowGetBody() {
        return this.#internals.allowGetBody;
    }
    set allowGetBody(value) {
        assert.boolean(value);
        this.#internals.allowGetBody = value;
    }
    /**
    Allow absolute URLs to bypass `prefixUrl`.

    When set to `false` with `prefixUrl`, passing an absolute `url` will throw. This also rejects scheme-relative URL strings like `//example.com/path` in retry and pagination URL overrides. Use this when untrusted URL input must stay on the same origin as the configured `prefixUrl`. This is not a path sandbox: relative paths like `../other` still follow standard URL resolution on the same origin. Set `prefixUrl` to an empty string for a request that intentionally needs an absolute URL.

    __Note__: This guards the `url` you pass. It does not block cross-origin redirects issued by the server, though inherited sensitive headers are still stripped when a redirect changes origin.

    __Note__: The check is defeated if the same hook or `pagination.paginate(…)` return also sets `prefixUrl` or `allowAbsoluteUrls`. Do not populate those options from untrusted data.

    @default true
    */
    get allowAbsoluteUrls() {
        return this.#internals.allowAbsoluteUrls;
    }
    set allowAbsoluteUrls(value) {
        assert.boolean(value);
        this.#internals.allowAbsoluteUrls = value;
    }
    /**
    Automatically copy headers from piped streams.

    When piping a request into a Got stream (e.g., `request.pipe(got.stream(url))`), this controls whether headers from the source stream are automatically merged into the Got request headers.

    Note: Explicitly set headers take precedence over piped headers. Piped headers are only copied when a header is not already explicitly set.

    Useful for proxy scenarios when explicitly enabled. Got automatically omits `host`, `authorization`, `cookie`, `cookie2`, `set-cookie`, `set-cookie2`, hop-by-hop headers, and headers nominated by `Connection`/`Proxy-Connection`. Got cannot know which app-specific headers are sensitive. Leave `copyPipedHeaders` disabled and copy only safe headers manually, or explicitly omit those headers before piping. If you trust the upstream and want to forward credentials, pass them explicitly in `headers`.

    @default false

    @example
    ```
    import got from 'got';
    import {pipeline} from 'node:stream/promises';

    // Opt in to automatic header copying for proxy scenarios
    server.get('/proxy', async (request, response) => {
        const gotStream = got.stream('https://example.com', {
            copyPipedHeaders: true,
            // Explicit headers win over piped headers.
            // Add credentials here only when the upstream is trusted.
            headers: {
                host: 'example.com',
            }
        });

        await pipeline(request, gotStream, response);
    });
    ```

    @example
    ```
    import got from 'got';
    import {pipeline} from 'node:stream/promises';

    // Keep it disabled and manually copy only safe headers
    server.get('/proxy', async (request, response) => {
        const gotStream = got.stream('https://example.com', {
            headers: {
                'user-agent': request.headers['user-agent'],
                'accept': request.headers['accept'],
                // Explicitly NOT copying host, connection, authorization, etc.
            }
        });

        await pipeline(request, gotStream, response);
    });
    ```
    */
    get copyPipedHeaders() {
        return this.#internals.copyPipedHeaders;
    }
    set copyPipedHeaders(value) {
        assert.boolean(value);
        this.#internals.copyPipedHeaders = value;
    }
    isHeaderExplicitlySet(name) {
        return this.#explicitHeaders.has(name.toLowerCase());
    }
    shouldCopyPipedHeader(name) {
        return !this.isHeaderExplicitlySet(name);
    }
    setPipedHeader(name, value) {
        assertValidHeaderName(name);
        this.#internals.headers[name.toLowerCase()] = value;
    }
    getInternalHeaders() {
        return this.#internals.headers;
    }
    setInternalHeader(name, value) {
        if (value === undefined) {
            this.deleteInternalHeader(name);
            return;
        }
        assertValidHeaderName(name);
        this.#internals.headers[name.toLowerCase()] = value;
    }
    deleteInternalHeader(name) {
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
        delete this.#internals.headers[name.toLowerCase()];
    }
    async trackStateMutations(operation) {
        const changedState = new Set();
        this.#trackedStateMutations = changedState;
        try {
            return await operation(changedState);
        }
        finally {
            this.#trackedStateMutations = undefined;
        }
    }
    clearBody() {
        this.body = undefined;
        this.json = undefined;
        this.form = undefined;
        for (const header of bodyHeaderNames) {
            this.deleteInternalHeader(header);
        }
    }
    clearUnchangedCookieHeader(previousState, changedState) {
        if (previousState?.hadCookieJar
            && this.cookieJar === undefined
            && !this.isHeaderExplicitlySet('cookie')
            && !changedState?.has('cookie')
            && this.headers.cookie === previousState.headers.cookie) {
            this.deleteInternalHeader('cookie');
        }
    }
    restoreCookieHeader(previousState, headers) {
        if (!previousState || Object.keys(headers ?? {}).some(name => name.toLowerCase() === 'cookie')) {
            return;
        }
        if (previousState.cookieWasExplicitlySet) {
            this.headers.cookie = previousState.headers.cookie;
            return;
        }
        delete this.headers.cookie;
        if (previousState.headers.cookie !== undefined) {
            this.setInternalHeader('cookie', previousState.headers.cookie);
        }
    }
    syncCookieHeaderAfterMerge(previousState, headers) {
        this.restoreCookieHeader(previousState, headers);
        this.clearUnchangedCookieHeader(previousState);
    }
    stripUnchangedCrossOriginState(previousState, changedState, { clearBody = true } = {}) {
        const headers = this.getInternalHeaders();
        const url = this.#internals.url;
        for (const header of crossOriginStripHeaders) {
            if (!changedState.has(header) && headers[header] === previousState.headers[header]) {
                this.deleteInternalHeader(header);
            }
        }
        for (const credential of ['username', 'password']) {
            if (!hasExplicitCredentialInUrlChange(changedState, url, credential)) {
                this[credential] = '';
            }
        }
        if (clearBody && !hasBodyOptionChanged(changedState) && isBodyUnchanged(this, previousState)) {
            this.clearBody();
        }
    }
    /**
    Strip sensitive headers and credentials when navigating to a different origin.
    Headers and credentials explicitly provided in `userOptions` are preserved.
    */
    stripSensitiveHeaders(previousUrl, nextUrl, userOptions) {
        if (isSameOrigin(previousUrl, nextUrl)) {
            return;
        }
        const headers = lowercase_keys_lowercaseKeys(userOptions.headers ?? {});
        for (const header of crossOriginStripHeaders) {
            if (headers[header] === undefined) {
                this.deleteInternalHeader(header);
            }
        }
        for (const credential of ['username', 'password']) {
            const hasExplicitCredential = (Object.hasOwn(userOptions, credential) && userOptions[credential] !== undefined)
                || hasCredentialInUrl(userOptions.url, credential)
                || hasCredentialInUrl(userOptions.prefixUrl, credential)
                || isCrossOriginCredentialChanged(previousUrl, nextUrl, credential);
            if (!hasExplicitCredential && this[credential] !== '') {
                this[credential] = '';
            }
        }
    }
    /**
    Merge the options for a follow-up request into `this` and apply the cross-origin rules. This is shared by `afterResponse` retries (when the hook passes a new options object) and by pagination.

    Returns the resolved `nextUrl` when `updatedOptions.url` was supplied, so callers can run their own checks on it, and whether the caller supplied an explicit body.
    */
    mergeNextRequestOptions(updatedOptions, { previousUrl, previousState, previousBoundary, baseUrl, }) {
        const hasExplicitBody = hasExplicitBodyOption(updatedOptions);
        const clearsCookieJar = Object.hasOwn(updatedOptions, 'cookieJar') && updatedOptions.cookieJar === undefined;
        if (hasExplicitBody) {
            const contentType = this.isHeaderExplicitlySet('content-type') ? this.headers['content-type'] : undefined;
            this.clearBody();
            this.setInternalHeader('content-type', contentType);
        }
        if (clearsCookieJar) {
            this.cookieJar = undefined;
        }
        const { url, ...updatedOptionsWithoutUrl } = updatedOptions;
        this.merge(updatedOptionsWithoutUrl);
        this.syncCookieHeaderAfterMerge(previousState, updatedOptionsWithoutUrl.headers);
        const currentUrl = this.url;
        if (previousUrl
            && currentUrl instanceof URL
            && hasUrlOrPrefixUrlBoundaryChanged(this, currentUrl, previousBoundary)) {
            assertUrlHasSameOriginAsPrefixUrlIfNeeded(this, currentUrl);
        }
        if (url === undefined
            && previousUrl
            && currentUrl instanceof URL
            && !isSameOrigin(previousUrl, currentUrl)) {
            this.stripSensitiveHeaders(previousUrl, currentUrl, updatedOptions);
            if (!hasExplicitBody) {
                this.clearBody();
            }
        }
        let nextUrl;
        if (url !== undefined) {
            nextUrl = applyUrlOverride(this, url, { ...updatedOptions, baseUrl });
            // Explicit search parameters override the query string in the new URL.
            if (updatedOptions.searchParams !== undefined) {
                this.searchParams = updatedOptions.searchParams;
            }
            if (previousUrl) {
                this.stripSensitiveHeaders(previousUrl, nextUrl, updatedOptions);
                if (!isSameOrigin(previousUrl, nextUrl) && !hasExplicitBody) {
                    this.clearBody();
                }
            }
        }
        return { nextUrl, hasExplicitBody };
    }
    /**
    Request headers.

    Existing headers will be overwritten. Headers set to `undefined` will be omitted. Number values are stored and sent as strings.

    @default {'user-agent': 'got (https://github.com/sindresorhus/got)'}
    */
    get headers() {
        return this.#headersProxy;
    }
    set headers(value) {
        options_assertPlainObject('headers', value);
        const normalizedHeaders = lowercase_keys_lowercaseKeys(cloneHeaders(value));
        for (const header of Object.keys(normalizedHeaders)) {
            assertValidHeaderName(header);
        }
        if (this.#merging) {
            safeObjectAssign(this.#internals.headers, normalizedHeaders);
        }
        else {
            const previousHeaders = this.#internals.headers;
            this.#internals.headers = normalizedHeaders;
            this.#headersProxy = this.#createHeadersProxy();
            this.#explicitHeaders.clear();
            trackReplacedHeaderMutations(this.#trackedStateMutations, previousHeaders, normalizedHeaders);
        }
        for (const header of Object.keys(normalizedHeaders)) {
            this.#explicitHeaders.add(header);
            if (this.#merging) {
                this.#trackedStateMutations?.add(header);
            }
        }
    }
    /**
    Specifies if the HTTP request method should be [rewritten as `GET`](https://tools.ietf.org/html/rfc7231#section-6.4) on redirects.

    As the [specification](https://tools.ietf.org/html/rfc7231#section-6.4) prefers to rewrite the HTTP method only on `303` responses, this is Got's default behavior. Cross-origin `301` and `302` redirects also rewrite `POST` requests to `GET` by default to avoid forwarding request bodies to another origin.
    Setting `methodRewriting` to `true` will also rewrite same-origin `301` and `302` responses, as allowed by the spec. This is the behavior followed by `curl` and browsers.

    __Note__: Got never performs method rewriting on `307` and `308` responses, as this is [explicitly prohibited by the specification](https://www.rfc-editor.org/rfc/rfc7231#section-6.4.7).

    @default false
    */
    get methodRewriting() {
        return this.#internals.methodRewriting;
    }
    set methodRewriting(value) {
        assert.boolean(value);
        this.#internals.methodRewriting = value;
    }
    /**
    Indicates which DNS record family to use.

    Values:
    - `undefined`: IPv4 (if present) or IPv6
    - `4`: Only IPv4
    - `6`: Only IPv6

    @default undefined
    */
    get dnsLookupIpVersion() {
        return this.#internals.dnsLookupIpVersion;
    }
    set dnsLookupIpVersion(value) {
        if (value !== undefined && value !== 4 && value !== 6) {
            throw new TypeError(`Invalid DNS lookup IP version: ${value}`);
        }
        this.#internals.dnsLookupIpVersion = value;
    }
    /**
    A function used to parse JSON responses.

    @example
    ```
    import got from 'got';
    import {parse} from '@hapi/bourne';

    // Preventing prototype pollution by using Bourne
    const parsed = await got('https://example.com', {
        parseJson: text => parse(text)
    }).json();

    console.log(parsed);
    ```
    */
    get parseJson() {
        return this.#internals.parseJson;
    }
    set parseJson(value) {
        assert.function(value);
        this.#internals.parseJson = value;
    }
    /**
    A function used to stringify the body of JSON requests.

    @example
    ```
    import got from 'got';

    await got.post('https://example.com', {
        stringifyJson: object => JSON.stringify(object, (key, value) => {
            if (key.startsWith('_')) {
                return;
            }

            return value;
        }),
        json: {
            some: 'payload',
            _ignoreMe: 1234
        }
    });
    ```

    @example
    ```
    import got from 'got';

    await got.post('https://example.com', {
        stringifyJson: object => JSON.stringify(object, (key, value) => {
            if (typeof value === 'number') {
                return value.toString();
            }

            return value;
        }),
        json: {
            some: 'payload',
            number: 1
        }
    });
    ```
    */
    get stringifyJson() {
        return this.#internals.stringifyJson;
    }
    set stringifyJson(value) {
        assert.function(value);
        this.#internals.stringifyJson = value;
    }
    /**
    An object representing `limit`, `calculateDelay`, `methods`, `statusCodes`, `maxRetryAfter` and `errorCodes` fields for maximum retry count, retry handler, allowed methods, allowed status codes, maximum [`Retry-After`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Retry-After) time and allowed error codes.

    Undefined settings preserve inherited values, except `maxRetryAfter`, where `undefined` restores the request timeout fallback.

    Delays between retries are calculated with `Math.max(1, Math.min((2 ** (attemptCount - 1)) * 1000, backoffLimit) + noise)`, where `attemptCount` starts at 1 and `noise` is the randomized retry noise. Setting both `backoffLimit` and `noise` to `0` requests an immediate retry; returning `0` from `calculateDelay` still aborts the retry.

    The `calculateDelay` property is a `function` that receives an object with `attemptCount`, `retryOptions`, `error` and `computedValue` properties for current retry count, the retry options, error and default computed value.
    The function must return a delay in milliseconds (or a Promise resolving with it) (`0` return value cancels retry).

    Delays above `2_147_483_647` milliseconds (Node.js's timer limit), including `Infinity`, abort the retry instead of triggering an immediate retry. This also applies to delays computed from `Retry-After`.

    The `enforceRetryRules` property is a `boolean` that, when set to `true` (default), enforces the `limit`, `methods`, `statusCodes`, and `errorCodes` options before calling `calculateDelay`. Your `calculateDelay` function is only invoked when a retry is allowed based on these criteria. When `false`, `calculateDelay` receives the computed value but can override all retry logic.

    __Note:__ When `enforceRetryRules` is `false`, you must check `computedValue` in your `calculateDelay` function to respect retry rules. When `true` (default), the retry rules are enforced automatically.

    By default, it retries *only* on the specified methods, status codes, and on these network errors:

    - `ETIMEDOUT`: One of the [timeout](#timeout) limits were reached.
    - `ECONNRESET`: Connection was forcibly closed by a peer.
    - `EADDRINUSE`: Could not bind to any free port.
    - `ECONNREFUSED`: Connection was refused by the server.
    - `EPIPE`: The remote side of the stream being written has been closed.
    - `ENOTFOUND`: Couldn't resolve the hostname to an IP address.
    - `ENETUNREACH`: No internet connection.
    - `EAI_AGAIN`: DNS lookup timed out.

    __Note__: If `maxRetryAfter` is set to `undefined`, it will use `options.timeout`.
    __Note__: If [`Retry-After`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Retry-After) header is greater than `maxRetryAfter`, it will cancel the request.
    */
    get retry() {
        return this.#internals.retry;
    }
    set retry(value) {
        options_assertPlainObject('retry', value);
        options_assertAny('retry.calculateDelay', [distribution.function, distribution.undefined], value.calculateDelay);
        options_assertAny('retry.maxRetryAfter', [distribution.number, distribution.undefined], value.maxRetryAfter);
        // `undefined` restores the inherited limit, so only a defined value is a count.
        if (!distribution.undefined(value.limit)) {
            assertCount('retry.limit', value.limit);
        }
        options_assertAny('retry.methods', [distribution.array, distribution.undefined], value.methods);
        options_assertAny('retry.statusCodes', [distribution.array, distribution.undefined], value.statusCodes);
        options_assertAny('retry.errorCodes', [distribution.array, distribution.undefined], value.errorCodes);
        options_assertAny('retry.noise', [distribution.number, distribution.undefined], value.noise);
        options_assertAny('retry.backoffLimit', [distribution.number, distribution.undefined], value.backoffLimit);
        options_assertAny('retry.enforceRetryRules', [distribution.boolean, distribution.undefined], value.enforceRetryRules);
        // The members are compared against a method name and a numeric status code, so a
        // wrong type would silently disable the retry instead of being reported here.
        for (const [key, predicate] of [['methods', distribution.string], ['statusCodes', distribution.number], ['errorCodes', distribution.string]]) {
            for (const [index, member] of (value[key] ?? []).entries()) {
                options_assertAny(`retry.${key}[${index}]`, [predicate], member);
            }
        }
        if (value.noise && Math.abs(value.noise) > 100) {
            throw new Error(`The maximum acceptable retry noise is +/- 100ms, got ${value.noise}`);
        }
        assertKnownKeys(value, this.#internals.retry, key => new Error(`Unexpected retry option: ${key}`));
        // Keep the undefined reset for maxRetryAfter, which falls back to the request timeout.
        const updatedRetry = Object.fromEntries(Object.entries(value).filter(([key, option]) => option !== undefined || key === 'maxRetryAfter'));
        if (this.#merging) {
            safeObjectAssign(this.#internals.retry, updatedRetry);
        }
        else {
            // A partial object must not drop the other retry settings, as the normalization below and the retry logic require them.
            this.#internals.retry = { ...this.#internals.retry, ...updatedRetry };
        }
        const { retry } = this.#internals;
        retry.methods = [...new Set(retry.methods.map(method => method.toUpperCase()))];
        retry.statusCodes = [...new Set(retry.statusCodes)];
        retry.errorCodes = [...new Set(retry.errorCodes)];
    }
    /**
    From `http.RequestOptions`.

    The IP address used to send the request from.
    */
    get localAddress() {
        return this.#internals.localAddress;
    }
    set localAddress(value) {
        options_assertAny('localAddress', [distribution.string, distribution.undefined], value);
        this.#internals.localAddress = value;
    }
    /**
    The HTTP method used to make the request.
    Custom methods such as `PROPFIND` are supported. Method names are normalized to uppercase.

    @default 'GET'
    */
    get method() {
        return this.#internals.method;
    }
    set method(value) {
        // An empty method would be sent as the default `GET`, hiding the mistake.
        options_assertAny('method', [distribution.nonEmptyString], value);
        this.#internals.method = value.toUpperCase();
        // A hook that switches to a method without a body slot has to drop or replace the body.
        this.#trackedStateMutations?.add('method');
    }
    /**
    The function used to retrieve a `net.Socket` instance when the `agent` option is not used.

    For HTTP/1, either return the socket synchronously or call `callback(null, socket)` asynchronously. Call `callback(error)` if socket creation fails.

    When `http2` is enabled for HTTPS, this function must synchronously return a `tls.TLSSocket`. Callback-based creation is not supported by HTTP/2 negotiation.
    */
    get createConnection() {
        return this.#internals.createConnection;
    }
    set createConnection(value) {
        options_assertAny('createConnection', [distribution.function, distribution.undefined], value);
        this.#internals.createConnection = value;
    }
    /**
    From `http-cache-semantics`

    @default {}
    */
    get cacheOptions() {
        return this.#internals.cacheOptions;
    }
    set cacheOptions(value) {
        options_assertPlainObject('cacheOptions', value);
        options_assertAny('cacheOptions.shared', [distribution.boolean, distribution.undefined], value.shared);
        options_assertAny('cacheOptions.cacheHeuristic', [distribution.number, distribution.undefined], value.cacheHeuristic);
        options_assertAny('cacheOptions.immutableMinTimeToLive', [distribution.number, distribution.undefined], value.immutableMinTimeToLive);
        options_assertAny('cacheOptions.ignoreCargoCult', [distribution.boolean, distribution.undefined], value.ignoreCargoCult);
        assertKnownKeys(value, defaultInternals.cacheOptions, key => new Error(`Cache option \`${key}\` does not exist`));
        this.#mergeOrReplace('cacheOptions', value);
    }
    /**
    Options for the advanced HTTPS API.
    */
    get https() {
        return this.#internals.https;
    }
    set https(value) {
        options_assertPlainObject('https', value);
        options_assertAny('https.rejectUnauthorized', [distribution.boolean, distribution.undefined], value.rejectUnauthorized);
        options_assertAny('https.checkServerIdentity', [distribution.function, distribution.undefined], value.checkServerIdentity);
        options_assertAny('https.serverName', [distribution.string, distribution.undefined], value.serverName);
        options_assertAny('https.certificateAuthority', [distribution.string, distribution.object, distribution.array, distribution.undefined], value.certificateAuthority);
        options_assertAny('https.key', [distribution.string, distribution.object, distribution.array, distribution.undefined], value.key);
        options_assertAny('https.certificate', [distribution.string, distribution.object, distribution.array, distribution.undefined], value.certificate);
        options_assertAny('https.passphrase', [distribution.string, distribution.undefined], value.passphrase);
        options_assertAny('https.pfx', [distribution.string, distribution.uint8Array, distribution.array, distribution.undefined], value.pfx);
        options_assertAny('https.alpnProtocols', [distribution.array, distribution.undefined], value.alpnProtocols);
        options_assertAny('https.ciphers', [distribution.string, distribution.undefined], value.ciphers);
        options_assertAny('https.dhparam', [distribution.string, distribution.buffer, distribution.undefined], value.dhparam);
        options_assertAny('https.signatureAlgorithms', [distribution.string, distribution.undefined], value.signatureAlgorithms);
        options_assertAny('https.minVersion', [distribution.string, distribution.undefined], value.minVersion);
        options_assertAny('https.maxVersion', [distribution.string, distribution.undefined], value.maxVersion);
        options_assertAny('https.honorCipherOrder', [distribution.boolean, distribution.undefined], value.honorCipherOrder);
        options_assertAny('https.tlsSessionLifetime', [distribution.number, distribution.undefined], value.tlsSessionLifetime);
        options_assertAny('https.ecdhCurve', [distribution.string, distribution.undefined], value.ecdhCurve);
        options_assertAny('https.certificateRevocationLists', [distribution.string, distribution.buffer, distribution.array, distribution.undefined], value.certificateRevocationLists);
        options_assertAny('https.secureOptions', [distribution.number, distribution.undefined], value.secureOptions);
        assertKnownKeys(value, defaultInternals.https, key => new Error(`HTTPS option \`${key}\` does not exist`));
        this.#mergeOrReplace('https', cloneHttps(value));
    }
    /**
    [Encoding](https://nodejs.org/api/buffer.html#buffer_buffers_and_character_encodings) to be used on `setEncoding` of the response data.

    To get a [`Uint8Array`](https://developer.mozilla.org/docs/Web/JavaScript/Reference/Global_Objects/Uint8Array), you need to set `responseType` to `buffer` instead.
    Don't set this option to `null`.

    __Note__: This doesn't affect streams! Instead, you need to do `got.stream(...).setEncoding(encoding)`.

    @default undefined, which decodes the response as UTF-8
    */
    get encoding() {
        return this.#internals.encoding;
    }
    set encoding(value) {
        if (value === null) {
            throw new TypeError('To get a Uint8Array, set `options.responseType` to `buffer` instead');
        }
        options_assertAny('encoding', [distribution.string, distribution.undefined], value);
        this.#internals.encoding = value;
    }
    /**
    When set to `true` the promise will return the Response body instead of the Response object.

    @default false
    */
    get resolveBodyOnly() {
        return this.#internals.resolveBodyOnly;
    }
    set resolveBodyOnly(value) {
        assert.boolean(value);
        this.#internals.resolveBodyOnly = value;
    }
    /**
    Returns a `Stream` instead of a `Promise`.
    Set internally by `got.stream()`.

    @default false
    @internal
    */
    get isStream() {
        return this.#internals.isStream;
    }
    set isStream(value) {
        assert.boolean(value);
        this.#internals.isStream = value;
    }
    /**
    The parsing method.

    The promise also has `.text()`, `.json()` and `.buffer()` methods which return another Got promise for the parsed body.

    It's like setting the options to `{responseType: 'json', resolveBodyOnly: true}` but without affecting the main Got promise.

    __Note__: When using streams, this option is ignored.

    @example
    ```
    const responsePromise = got(url);
    const bufferPromise = responsePromise.buffer();
    const jsonPromise = responsePromise.json();

    const [response, buffer, json] = Promise.all([responsePromise, bufferPromise, jsonPromise]);
    // `response` is an instance of Got Response
    // `buffer` is an instance of Uint8Array
    // `json` is an object
    ```

    @example
    ```
    // This
    const body = await got(url).json();

    // is semantically the same as this
    const body = await got(url, {responseType: 'json', resolveBodyOnly: true});
    ```
    */
    get responseType() {
        return this.#internals.responseType;
    }
    set responseType(value) {
        if (value !== 'text' && value !== 'buffer' && value !== 'json') {
            throw new Error(`Invalid \`responseType\` option: ${value}`);
        }
        this.#internals.responseType = value;
    }
    get pagination() {
        return this.#internals.pagination;
    }
    set pagination(value) {
        assert.object(value);
        const updatedPagination = Object.fromEntries(Object.entries(value).filter(([, option]) => option !== undefined));
        if (this.#merging) {
            safeObjectAssign(this.#internals.pagination, updatedPagination);
        }
        else {
            // A partial object must not drop the other pagination settings, as the pagination logic requires them.
            this.#internals.pagination = { ...this.#internals.pagination, ...updatedPagination };
        }
    }
    get setHost() {
        return this.#internals.setHost;
    }
    set setHost(value) {
        assert.boolean(value);
        this.#internals.setHost = value;
    }
    get maxHeaderSize() {
        return this.#internals.maxHeaderSize;
    }
    set maxHeaderSize(value) {
        options_assertAny('maxHeaderSize', [distribution.number, distribution.undefined], value);
        this.#internals.maxHeaderSize = value;
    }
    get enableUnixSockets() {
        return this.#internals.enableUnixSockets;
    }
    set enableUnixSockets(value) {
        assert.boolean(value);
        this.#internals.enableUnixSockets = value;
    }
    /**
    Throw an error if the server response's `content-length` header value doesn't match the number of bytes received.

    This is useful for detecting truncated responses and follows RFC 9112 requirements for message completeness.

    __Note__: Responses without a `content-length` header are not validated.
    __Note__: When enabled and validation fails, a `ReadError` with code `ERR_HTTP_CONTENT_LENGTH_MISMATCH` will be thrown.
    __Note__: Keep custom native responses in byte mode for exact validation. Calling `setEncoding()` on the native response can lose the original byte count when decoding malformed input.

    @default true
    */
    get strictContentLength() {
        return this.#internals.strictContentLength;
    }
    set strictContentLength(value) {
        assert.boolean(value);
        this.#internals.strictContentLength = value;
    }
    // eslint-disable-next-line @typescript-eslint/naming-convention
    toJSON() {
        // A copy of the nested state, so editing the result cannot change these options.
        return cloneInternals(this.#internals);
    }
    [Symbol.for('nodejs.util.inspect.custom')](_depth, options) {
        return (0,external_node_util_.inspect)(this.#internals, options);
    }
    createNativeRequestOptions() {
        const internals = this.#internals;
        const url = internals.url;
        const usesAlpn = usesHttp2Alpn(internals, url);
        const socketTimeout = usesAlpn ? internals.timeout.socket : undefined;
        const http2Timeout = usesAlpn ? getHttp2Timeout(internals) : undefined;
        let agent;
        if (url.protocol === 'https:') {
            if (internals.http2) {
                // Ensure HTTP/2 pooling is configured for connection reuse.
                // If agent.http2 is unset, use the global agent for connection pooling.
                agent = {
                    ...internals.agent,
                    http2: internals.agent.http2 ?? http2_client.globalAgent,
                };
            }
            else {
                agent = internals.agent.https;
            }
        }
        else {
            agent = internals.agent.http;
        }
        const { https } = internals;
        let { pfx } = https;
        if (distribution.array(pfx)) {
            pfx = pfx.map(entry => distribution.plainObject(entry)
                ? {
                    buf: entry.buffer,
                    passphrase: entry.passphrase,
                }
                : entry);
        }
        const unixSocketPath = getUnixSocketPath(url);
        if (usesUnixSocket(url) && !internals.enableUnixSockets) {
            throw new Error('Using UNIX domain sockets but option `enableUnixSockets` is not enabled');
        }
        let unixSocketGroups;
        if (unixSocketPath !== undefined) {
            unixSocketGroups = /^(?<socketPath>[^:]+):(?<path>.+)$/v.exec(`${url.pathname}${url.search}`)?.groups;
        }
        const unixOptions = unixSocketGroups
            // The URL parser percent-encodes the path, but the socket path is a filesystem path.
            ? { socketPath: safeDecode(unixSocketGroups.socketPath), path: unixSocketGroups.path, host: '' }
            : undefined;
        const nativeRequestOptions = {
            ...internals.cacheOptions,
            ...unixOptions,
            // HTTPS options
            // eslint-disable-next-line @typescript-eslint/naming-convention
            ALPNProtocols: https.alpnProtocols,
            ca: https.certificateAuthority,
            cert: https.certificate,
            key: https.key,
            passphrase: https.passphrase,
            pfx,
            rejectUnauthorized: https.rejectUnauthorized,
            checkServerIdentity: https.checkServerIdentity ?? external_node_tls_.checkServerIdentity,
            servername: https.serverName,
            ciphers: https.ciphers,
            honorCipherOrder: https.honorCipherOrder,
            minVersion: https.minVersion,
            maxVersion: https.maxVersion,
            sigalgs: https.signatureAlgorithms,
            sessionTimeout: https.tlsSessionLifetime,
            dhparam: https.dhparam,
            ecdhCurve: https.ecdhCurve,
            crl: https.certificateRevocationLists,
            secureOptions: https.secureOptions,
            // HTTP options
            lookup: internals.dnsLookup ? getAdaptedLookup(internals.dnsLookup) : (internals.dnsCache ? getDnsCacheLookup(internals.dnsCache) : undefined),
            family: internals.dnsLookupIpVersion,
            agent,
            setHost: internals.setHost,
            method: internals.method,
            maxHeaderSize: internals.maxHeaderSize,
            localAddress: internals.localAddress,
            // A copy, so a caller editing the native options cannot change these options.
            headers: cloneHeaders(internals.headers),
            createConnection: internals.createConnection,
            signal: internals.http2 ? internals.signal : undefined,
            timeout: http2Timeout?.timeout,
            ...(http2Timeout !== undefined && { _timeoutPhase: http2Timeout.phase }),
            ...(socketTimeout !== undefined && { _socketTimeout: socketTimeout }),
            // HTTP/2 options
            h2session: internals.h2session,
        };
        return nativeRequestOptions;
    }
    getRequestFunction() {
        const { request: customRequest } = this.#internals;
        if (!customRequest) {
            return this.#getFallbackRequestFunction();
        }
        const requestWithFallback = (url, options, callback) => {
            const nativeAgent = getNativeAgent(url, options.agent);
            const hasInternalSocketTimeout = Object.hasOwn(options, '_socketTimeout');
            const hasInternalTimeoutPhase = Object.hasOwn(options, '_timeoutPhase');
            const customRequestOptions = options.timeout !== undefined || hasInternalSocketTimeout || nativeAgent !== options.agent
                ? {
                    ...options,
                    agent: nativeAgent,
                    timeout: undefined,
                }
                : options;
            if (hasInternalSocketTimeout) {
                Reflect.deleteProperty(customRequestOptions, '_socketTimeout');
            }
            if (hasInternalTimeoutPhase) {
                Reflect.deleteProperty(customRequestOptions, '_timeoutPhase');
            }
            const result = customRequest(url, customRequestOptions, callback);
            if (distribution.promise(result)) {
                return this.#resolveRequestWithFallback(result, {
                    url,
                    options,
                    callback,
                });
            }
            return result ?? this.#callFallbackRequest(url, options, callback);
        };
        return requestWithFallback;
    }
    freeze() {
        const options = this.#internals;
        Object.freeze(options);
        Object.freeze(options.hooks);
        for (const handlers of Object.values(options.hooks)) {
            Object.freeze(handlers);
        }
        Object.freeze(options.https);
        for (const value of Object.values(options.https)) {
            if (!Array.isArray(value)) {
                continue;
            }
            for (const item of value) {
                if (distribution.plainObject(item)) {
                    Object.freeze(item);
                }
            }
            Object.freeze(value);
        }
        Object.freeze(options.cacheOptions);
        Object.freeze(options.agent);
        Object.freeze(options.headers);
        Object.freeze(options.timeout);
        Object.freeze(options.pagination);
        Object.freeze(options.retry);
        Object.freeze(options.retry.errorCodes);
        Object.freeze(options.retry.methods);
        Object.freeze(options.retry.statusCodes);
        for (const value of Object.values(options.headers)) {
            Object.freeze(value);
        }
    }
    #getCredential(credential) {
        const url = this.#internals.url;
        const value = url ? url[credential] : this.#internals[credential];
        return safeDecode(value);
    }
    #setCredential(credential, value) {
        const url = this.#internals.url;
        const fixedValue = encodeURIComponent(value);
        if (url) {
            url[credential] = fixedValue;
        }
        else {
            this.#internals[credential] = fixedValue;
        }
        this.#trackedStateMutations?.add(credential);
    }
    // Merging assigns into the existing object, while a direct assignment replaces it with a copy.
    #mergeOrReplace(key, value) {
        if (this.#merging) {
            safeObjectAssign(this.#internals[key], value);
        }
        else {
            this.#internals[key] = { ...value };
        }
    }
    #createHeadersProxy() {
        return new Proxy(this.#internals.headers, {
            get(target, property, receiver) {
                if (typeof property === 'string') {
                    // Only own properties are headers, so an inherited `Object.prototype` member
                    // must not read as one.
                    if (Object.hasOwn(target, property)) {
                        return Reflect.get(target, property, receiver);
                    }
                    const normalizedProperty = property.toLowerCase();
                    return Object.hasOwn(target, normalizedProperty) ? Reflect.get(target, normalizedProperty, receiver) : undefined;
                }
                return Reflect.get(target, property, receiver);
            },
            set: (target, property, value) => {
                if (typeof property === 'string') {
                    const normalizedProperty = property.toLowerCase();
                    assertValidHeaderName(normalizedProperty);
                    const isSuccess = Reflect.set(target, normalizedProperty, typeof value === 'number' ? String(value) : value);
                    if (isSuccess) {
                        this.#explicitHeaders.add(normalizedProperty);
                        this.#trackedStateMutations?.add(normalizedProperty);
                    }
                    return isSuccess;
                }
                return Reflect.set(target, property, value);
            },
            deleteProperty: (target, property) => {
                if (typeof property === 'string') {
                    const normalizedProperty = property.toLowerCase();
                    const isSuccess = Reflect.deleteProperty(target, normalizedProperty);
                    if (isSuccess) {
                        this.#explicitHeaders.delete(normalizedProperty);
                        this.#trackedStateMutations?.add(normalizedProperty);
                    }
                    return isSuccess;
                }
                return Reflect.deleteProperty(target, property);
            },
        });
    }
    #getFallbackRequestFunction() {
        const url = this.#internals.url;
        if (!url) {
            return;
        }
        if (this.#internals.h2session) {
            return http2_client.auto;
        }
        if (url.protocol === 'https:') {
            return this.#internals.http2 ? http2_client.auto : external_node_https_namespaceObject.request;
        }
        return external_node_http_.request;
    }
    #callFallbackRequest(url, options, callback) {
        const fallbackRequest = this.#getFallbackRequestFunction();
        if (!fallbackRequest) {
            throw new TypeError('The request function must return a value');
        }
        const fallbackResult = fallbackRequest(url, options, callback);
        if (fallbackResult === undefined) {
            throw new TypeError('The request function must return a value');
        }
        return distribution.promise(fallbackResult) ? this.#resolveFallbackRequestResult(fallbackResult) : fallbackResult;
    }
    async #resolveRequestWithFallback(requestResult, { url, options, callback }) {
        const result = await requestResult;
        return result ?? this.#callFallbackRequest(url, options, callback);
    }
    async #resolveFallbackRequestResult(fallbackResult) {
        const resolvedFallbackResult = await fallbackResult;
        if (resolvedFallbackResult === undefined) {
            throw new TypeError('The request function must return a value');
        }
        return resolvedFallbackResult;
    }
}
/**
The option names are the accessor properties. Everything else on the prototype chain is a
method or an `Object.prototype` member, neither of which is an option.
*/
const optionDescriptors = Object.getOwnPropertyDescriptors(Options.prototype);
const optionNames = new Set(Object.entries(optionDescriptors).filter(([, descriptor]) => descriptor.get !== undefined && descriptor.set !== undefined).map(([name]) => name));
const snapshotCrossOriginState = (options) => ({
    headers: { ...options.getInternalHeaders() },
    hadCookieJar: options.cookieJar !== undefined,
    cookieWasExplicitlySet: options.isHeaderExplicitlySet('cookie'),
    username: options.username,
    password: options.password,
    body: options.body,
    json: options.json,
    form: options.form,
    bodySnapshot: cloneCrossOriginBodyValue(options.body),
    jsonSnapshot: cloneCrossOriginBodyValue(options.json),
    formSnapshot: cloneCrossOriginBodyValue(options.form),
});
const cloneCrossOriginBodyValue = (value) => {
    if (value === undefined || value === null || typeof value !== 'object') {
        return value;
    }
    try {
        const clone = structuredClone(value);
        // `structuredClone` drops prototypes it does not know, so a `Buffer` would never
        // compare equal to the value it was cloned from.
        if (Object.getPrototypeOf(clone) !== Object.getPrototypeOf(value)) {
            Object.setPrototypeOf(clone, Object.getPrototypeOf(value));
        }
        return clone;
    }
    catch {
        return undefined;
    }
};
const isUnchangedCrossOriginBodyValue = (currentValue, previousValue, previousSnapshot) => {
    if (currentValue !== previousValue) {
        return false;
    }
    return currentValue === undefined || currentValue === null || typeof currentValue !== 'object' || (previousSnapshot === undefined) ? true : (0,external_node_util_.isDeepStrictEqual)(currentValue, previousSnapshot);
};
const isCrossOriginCredentialChanged = (previousUrl, nextUrl, credential) => (nextUrl[credential] !== '' && nextUrl[credential] !== previousUrl[credential]);
const isBodyUnchanged = (options, previousState) => isUnchangedCrossOriginBodyValue(options.body, previousState.body, previousState.bodySnapshot)
    && isUnchangedCrossOriginBodyValue(options.json, previousState.json, previousState.jsonSnapshot)
    && isUnchangedCrossOriginBodyValue(options.form, previousState.form, previousState.formSnapshot);

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/utils/is-client-request.js
function isClientRequest(clientRequest) {
    return clientRequest.writable && !clientRequest.writableEnded;
}
/* harmony default export */ const is_client_request = (isClientRequest);

// EXTERNAL MODULE: external "node:diagnostics_channel"
var external_node_diagnostics_channel_ = __nccwpck_require__(3053);
;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/diagnostics-channel.js


const channels = {
    requestCreate: external_node_diagnostics_channel_.channel('got:request:create'),
    requestStart: external_node_diagnostics_channel_.channel('got:request:start'),
    responseStart: external_node_diagnostics_channel_.channel('got:response:start'),
    responseEnd: external_node_diagnostics_channel_.channel('got:response:end'),
    retry: external_node_diagnostics_channel_.channel('got:request:retry'),
    error: external_node_diagnostics_channel_.channel('got:request:error'),
    redirect: external_node_diagnostics_channel_.channel('got:response:redirect'),
};
function generateRequestId() {
    return (0,external_node_crypto_.randomUUID)();
}
const publishToChannel = (channel, message) => {
    if (channel.hasSubscribers) {
        channel.publish(message);
    }
};
function publishRequestCreate(message) {
    publishToChannel(channels.requestCreate, message);
}
function publishRequestStart(message) {
    publishToChannel(channels.requestStart, message);
}
function publishResponseStart(message) {
    publishToChannel(channels.responseStart, message);
}
function publishResponseEnd(message) {
    publishToChannel(channels.responseEnd, message);
}
function publishRetry(message) {
    publishToChannel(channels.retry, message);
}
function publishError(message) {
    publishToChannel(channels.error, message);
}
function publishRedirect(message) {
    publishToChannel(channels.redirect, message);
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/core/index.js


























const supportsBrotli = distribution.string(external_node_process_namespaceObject.versions.brotli);
const core_supportsZstd = distribution.string(external_node_process_namespaceObject.versions.zstd);
const methodsWithoutBody = new Set(['GET', 'HEAD']);
const singleValueRequestHeaders = new Set([
    'authorization',
    'content-length',
    'host',
    'proxy-authorization',
]);
const cacheableStore = new WeakableMap();
const redirectCodes = new Set([301, 302, 303, 307, 308]);

const transientWriteErrorCodes = new Set(['EPIPE', 'ECONNRESET']);
// See https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
const hopByHopHeaders = new Set([
    'connection',
    'keep-alive',
    'proxy-authenticate',
    'proxy-authorization',
    'proxy-connection',
    'te',
    'trailer',
    'transfer-encoding',
    'upgrade',
]);
const omittedPipedHeaders = new Set([
    ...hopByHopHeaders,
    'host',
    'authorization',
    'cookie',
    'cookie2',
    'set-cookie',
    'set-cookie2',
]);
// Track errors that have been processed by beforeError hooks to preserve custom error types
const errorsProcessedByHooks = new WeakSet();
const proxiedRequestEvents = [
    'socket',
    'connect',
    'continue',
    'information',
    'upgrade',
];
const core_noop = () => { };
const isPipedServerResponse = (destination) => destination instanceof external_node_http_.ServerResponse
    || destination instanceof external_node_http2_.Http2ServerResponse;
const destroyRequestResult = (result) => {
    if (!distribution.object(result) || !('destroy' in result) || !distribution.function(result.destroy)) {
        return;
    }
    if ('once' in result && distribution.function(result.once)) {
        result.once('error', core_noop);
    }
    result.destroy();
};
const createPreRequestErrorTimings = () => {
    const now = Date.now();
    return {
        start: now,
        error: now,
        phases: {
            total: 0,
        },
    };
};
const serializeNativeFormDataBody = (form) => {
    const response = new globalThis.Response(form);
    return {
        body: response.body,
        contentType: response.headers.get('content-type') ?? 'multipart/form-data',
    };
};
const isTransientWriteError = (error) => {
    const { code } = error;
    return typeof code === 'string' && transientWriteErrorCodes.has(code);
};
const getConnectionListedHeaders = (headers) => {
    const connectionListedHeaders = new Set();
    for (const [header, connectionHeader] of Object.entries(headers)) {
        const normalizedHeader = header.toLowerCase();
        if (normalizedHeader !== 'connection' && normalizedHeader !== 'proxy-connection') {
            continue;
        }
        const connectionHeaderValues = Array.isArray(connectionHeader) ? connectionHeader : [connectionHeader];
        for (const value of connectionHeaderValues) {
            if (typeof value !== 'string') {
                continue;
            }
            for (const token of value.split(',')) {
                const normalizedToken = token.trim().toLowerCase();
                if (normalizedToken.length > 0) {
                    connectionListedHeaders.add(normalizedToken);
                }
            }
        }
    }
    return connectionListedHeaders;
};
const getSanitizedUrl = (options) => options?.url ? stripUrlAuth(options.url) : '';
const methodCanHaveBody = (options) => !methodsWithoutBody.has(options.method) || (options.method === 'GET' && options.allowGetBody);
const makeProgress = (transferred, total) => {
    let percent = 0;
    if (total === transferred) {
        // Known-size complete transfers (including 0/0) should report 100% rather than 0%.
        percent = 1;
    }
    else if (total) {
        percent = transferred / total;
    }
    return { percent, transferred, total };
};
const parseContentLength = (value) => {
    const length = Number(value);
    return Number.isNaN(length) ? undefined : length;
};
const hasBodyOption = (options) => !distribution.undefined(options?.body) || !distribution.undefined(options?.json) || !distribution.undefined(options?.form);
const isIterableBody = (body) => distribution.asyncIterable(body) || (distribution.iterable(body) && !distribution.string(body) && !isBuffer(body));
const hasResponse = (request) => Boolean(request.res);
const toRequestError = (thrown, request) => {
    const normalizedError = normalizeError(thrown);
    return new RequestError(normalizedError.message, normalizedError, request);
};
const createServerAbortedError = (request) => new ReadError({
    name: 'Error',
    message: 'The server aborted pending request',
    code: 'ECONNRESET',
}, request);
class Request extends external_node_stream_.Duplex {
    // @ts-expect-error - Ignoring for now.
    ['constructor'];
    _noPipe;
    // @ts-expect-error https://github.com/microsoft/TypeScript/issues/9568
    options;
    response;
    requestUrl;
    redirectUrls = [];
    retryCount = 0;
    _stopReading = false;
    _stopRetry;
    _downloadedSize = 0;
    _uploadedSize = 0;
    _pipedServerResponses = new Set();
    _request;
    _responseSize;
    _bodySize;
    _nativeFormDataBody;
    _activeWebBodyReader;
    _unproxyEvents;
    _triggerRead = false;
    _jobs = [];
    _cancelTimeouts;
    _abortListenerDisposer;
    _flushed = false;
    _startedAt;
    _requestTimeout;
    _dispatchedBody;
    _aborted = false;
    _retrying = false;
    _expectedContentLength;
    _compressedBytesCount;
    _skipRequestEndInFinal = false;
    _dispatchingOwnBody = false;
    _hasWrittenBody = false;
    _hasWritableBody = false;
    _discardBodyWrites = false;
    _incrementalDecode;
    _requestId;
    // We need this because `this._request` if `undefined` when using cache
    _requestInitialized = false;
    constructor(url, options, defaults, retrySource) {
        super({
            // Don't destroy immediately, as the error may be emitted on unsuccessful retry
            autoDestroy: false,
            // It needs to be zero because we're just proxying the data to another stream
            highWaterMark: 0,
        });
        this._requestId = retrySource?._requestId ?? generateRequestId();
        // Observe the terminal error without consuming unhandled stream errors.
        const onError = (error) => {
            // The Promise API routes writable errors through retry and beforeError hooks first.
            if (this._noPipe && !this._stopReading) {
                return;
            }
            this.off(external_node_events_.errorMonitor, onError);
            publishError({
                requestId: this._requestId,
                url: getSanitizedUrl(this.options),
                error,
                timings: this.timings,
            });
        };
        this.on(external_node_events_.errorMonitor, onError);
        this.on('pipe', (source) => {
            if (this.options.copyPipedHeaders && source?.headers) {
                const connectionListedHeaders = getConnectionListedHeaders(source.headers);
                for (const [header, value] of Object.entries(source.headers)) {
                    const normalizedHeader = header.toLowerCase();
                    if (omittedPipedHeaders.has(normalizedHeader) || connectionListedHeaders.has(normalizedHeader) || !this.options.shouldCopyPipedHeader(normalizedHeader)) {
                        continue;
                    }
                    this.options.setPipedHeader(normalizedHeader, value);
                }
            }
        });
        this.on('newListener', event => {
            if (event === 'retry' && this.listenerCount('retry') > 0) {
                throw new Error('A retry listener has been attached already.');
            }
        });
        try {
            this.options = new Options(url, options, defaults);
            this._nativeFormDataBody = retrySource?._nativeFormDataBody;
            if (!this.options.url) {
                if (this.options.prefixUrl === '') {
                    throw new TypeError('Missing `url` property');
                }
                this.options.url = '';
            }
            this.requestUrl = new URL(retrySource?.requestUrl ?? this.options.url);
            // Publish request creation event
            publishRequestCreate({
                requestId: this._requestId,
                url: getSanitizedUrl(this.options),
                method: this.options.method,
            });
        }
        catch (error) {
            const { options } = error;
            if (options) {
                this.options = options;
            }
            this.flush = async () => {
                this.flush = async () => { };
                // Defer error emission to next tick to allow user to attach error handlers
                external_node_process_namespaceObject.nextTick(() => {
                    // _beforeError requires options to access retry logic and hooks
                    if (this.options) {
                        this._beforeError(error);
                    }
                    else {
                        // Options is undefined, skip _beforeError and destroy directly
                        const normalizedError = normalizeError(error);
                        const requestError = normalizedError instanceof RequestError ? normalizedError : new RequestError(normalizedError.message, normalizedError, this);
                        this.destroy(requestError);
                    }
                });
            };
            return;
        }
        // Important! If you replace `body` in a handler with another stream, make sure it's readable first.
        // The below is run only once.
        const { body } = this.options;
        if (distribution.nodeStream(body)) {
            body.once('error', this._onBodyError);
        }
    }
    async flush() {
        if (this._flushed) {
            return;
        }
        this._flushed = true;
        try {
            this._attachAbortListener();
            if (this.destroyed) {
                return;
            }
            await this._finalizeBody();
            if (this.destroyed) {
                return;
            }
            this._hasWritableBody = this._canWriteBody();
            await this._makeRequest();
            if (this.destroyed) {
                this._request?.destroy();
                return;
            }
            // Queued writes etc.
            for (const job of this._jobs) {
                job();
            }
            // Prevent memory leak
            this._jobs.length = 0;
            this._requestInitialized = true;
        }
        catch (error) {
            this._beforeError(error);
        }
    }
    _beforeError(thrown) {
        if (this._stopReading) {
            return;
        }
        let error = normalizeError(thrown);
        const { response, options } = this;
        const attemptCount = this.retryCount + 1;
        this._stopReading = true;
        if (error instanceof timed_out_TimeoutError) {
            error = this._createTimeoutError(error);
        }
        else if (!(error instanceof RequestError)) {
            error = new RequestError(error.message, error, this);
        }
        const typedError = error;
        void (async () => {
            // Node.js parser is really weird.
            // It emits post-request Parse Errors on the same instance as previous request. WTF.
            // Therefore, we need to check if it has been destroyed as well.
            if (response?.readable && !response.rawBody && !this._request?.socket?.destroyed) {
                await this._setRawBody(response);
            }
            if (response?.rawBody && response.body === undefined) {
                try {
                    // `error.response` is typed with the request's `responseType`, so honour it here. The
                    // body is assigned right below, so the cast is only visible while parsing.
                    response.body = parseBody(response, options.responseType, options.parseJson, options.encoding);
                }
                catch {
                    // Preserve the original request error when parsing its response body also fails.
                    try {
                        response.body = decodeUint8Array(response.rawBody, options.encoding);
                    }
                    catch { }
                }
            }
            if (this.listenerCount('retry') !== 0) {
                let backoff;
                try {
                    let retryAfter;
                    if (response && 'retry-after' in response.headers) {
                        const retryAfterHeader = response.headers['retry-after'];
                        if (/^\d+$/v.test(retryAfterHeader)) {
                            retryAfter = Number(retryAfterHeader) * 1000;
                        }
                        else if (Number.isNaN(Number(retryAfterHeader))) {
                            // The asctime HTTP-date format has no timezone marker, but represents UTC (RFC 9110, section 5.6.7).
                            const date = /^\w{3} \w{3} [\d ]\d \d{2}:\d{2}:\d{2} \d{4}$/v.test(retryAfterHeader) ? `${retryAfterHeader} GMT` : retryAfterHeader;
                            retryAfter = Date.parse(date) - Date.now();
                        }
                        if (retryAfter === undefined || Number.isNaN(retryAfter)) {
                            // Invalid `Retry-After` values must be ignored. See https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
                            retryAfter = undefined;
                        }
                        else if (retryAfter < 0) {
                            retryAfter = 0;
                        }
                    }
                    const retryOptions = options.retry;
                    const computedValue = calculate_retry_delay({
                        attemptCount,
                        retryOptions,
                        error: typedError,
                        retryAfter,
                        computedValue: retryOptions.maxRetryAfter ?? options.timeout.request ?? Infinity,
                    });
                    // When enforceRetryRules is true, respect the retry rules (limit, methods, statusCodes, errorCodes)
                    // before calling the user's calculateDelay function. If computedValue is 0 (meaning retry is not allowed
                    // based on these rules), skip calling calculateDelay entirely.
                    // When false, always call calculateDelay, allowing it to override retry decisions.
                    if (retryOptions.enforceRetryRules && computedValue === 0) {
                        backoff = 0;
                    }
                    else {
                        backoff = await retryOptions.calculateDelay({
                            attemptCount,
                            retryOptions,
                            error: typedError,
                            retryAfter,
                            computedValue,
                        });
                    }
                }
                catch (error_) {
                    void this._error(toRequestError(error_, this));
                    return;
                }
                // Node turns overflowing timer delays into 1 ms. Stop retrying instead of running before the requested delay.
                if (backoff && backoff <= 2_147_483_647) {
                    await new Promise(resolve => {
                        const timeout = setTimeout(resolve, backoff);
                        this._stopRetry = () => {
                            clearTimeout(timeout);
                            resolve();
                        };
                    });
                    // Something forced us to abort the retry
                    if (this.destroyed) {
                        return;
                    }
                    // Capture body BEFORE hooks run to detect reassignment
                    const bodyBeforeHooks = this.options.body;
                    let changedState;
                    try {
                        changedState = await this.options.trackStateMutations(async (changedState) => {
                            for (const hook of this.options.hooks.beforeRetry) {
                                // eslint-disable-next-line no-await-in-loop
                                await hook(typedError, this.retryCount + 1);
                            }
                            return changedState;
                        });
                    }
                    catch (error_) {
                        void this._error(toRequestError(error_, this));
                        return;
                    }
                    // Something forced us to abort the retry
                    if (this.destroyed) {
                        return;
                    }
                    // Preserve stream body reassigned in beforeRetry hooks.
                    const bodyAfterHooks = this.options.body;
                    const bodyWasReassigned = bodyBeforeHooks !== bodyAfterHooks;
                    // Resource cleanup and preservation logic for retry with body reassignment.
                    // The Promise wrapper (as-promise/index.ts) compares body identity to detect consumed streams,
                    // so we must preserve the body reference across destroy(). However, destroy() calls _destroy()
                    // which destroys this.options.body, creating a complex dance of clear/restore operations.
                    //
                    // Key constraints:
                    // 1. If body was reassigned, we must NOT destroy the NEW stream (it will be used for retry)
                    // 2. If body was reassigned, we MUST destroy the OLD stream to prevent memory leaks
                    // 3. We must restore the body reference after destroy() for identity checks in promise wrapper
                    // 4. We cannot use the normal setter after destroy() because it validates stream readability
                    this._retrying = true;
                    /*
                    Everything from here on runs after `destroy()`, so any failure leaves the
                    request without a next attempt. The piped destination is therefore this
                    request's to close, and the error still has to reach the caller.
                    */
                    try {
                        if (bodyWasReassigned) {
                            if (!changedState.has('content-length')) {
                                this._refreshBodySize(this.options);
                            }
                            const oldBody = bodyBeforeHooks;
                            // Temporarily clear body to prevent destroy() from destroying the new stream
                            this.options.body = undefined;
                            this.destroy();
                            // `_destroy` already tore down the dispatched body, so only clean up a
                            // different one here.
                            if (oldBody !== bodyAfterHooks && oldBody !== this._dispatchedBody?.body) {
                                this._destroyBody(oldBody);
                            }
                            // Restore new body for promise wrapper's identity check
                            if (distribution.nodeStream(bodyAfterHooks) && (bodyAfterHooks.readableEnded || bodyAfterHooks.destroyed)) {
                                throw new TypeError('The reassigned stream body must be readable. Ensure you provide a fresh, readable stream in the beforeRetry hook.');
                            }
                            this.options.body = bodyAfterHooks;
                        }
                        else {
                            // Body wasn't reassigned - use normal destroy flow which handles body cleanup
                            this.destroy();
                            // Note: We do NOT restore the body reference here. The stream was destroyed by _destroy()
                            // and should not be accessed. The promise wrapper will see that body identity hasn't changed
                            // and will detect it's a consumed stream, which is the correct behavior.
                        }
                        // Native FormData can be re-serialized, so replay it instead of failing with a consumed body.
                        if (this._nativeFormDataBody !== undefined && this.options.body === this._nativeFormDataBody.body) {
                            this._reserializeFormDataBody(this.options, changedState.has('content-type'));
                        }
                        // Publish retry event
                        publishRetry({
                            requestId: this._requestId,
                            retryCount: this.retryCount + 1,
                            error: typedError,
                            delay: backoff,
                        });
                        this.emit('retry', this.retryCount + 1, error, (updatedOptions) => {
                            const request = new Request(undefined, updatedOptions, options, this);
                            request.retryCount = this.retryCount + 1;
                            external_node_process_namespaceObject.nextTick(() => {
                                void request.flush();
                            });
                            return request;
                        });
                    }
                    catch (error_) {
                        this._closePipedServerResponses();
                        void this._error(toRequestError(error_, this));
                        return;
                    }
                    return;
                }
            }
            void this._error(typedError);
        })();
    }
    _read() {
        this._triggerRead = true;
        const { response } = this;
        if (response && !this._stopReading) {
            // We cannot put this in the `if` above
            // because `.read()` also triggers the `end` event
            if (response.readableLength) {
                this._triggerRead = false;
            }
            let data;
            while ((data = response.read()) !== null) {
                if (this._noPipe && typeof data === 'string') {
                    data = external_node_buffer_.Buffer.from(data, response.readableEncoding ?? undefined);
                }
                this._downloadedSize += typeof data === 'string' ? external_node_buffer_.Buffer.byteLength(data, response.readableEncoding ?? undefined) : byteLength(data);
                if (this._incrementalDecode) {
                    try {
                        const decodedChunk = typeof data === 'string' ? data : this._incrementalDecode.decoder.decode(data, { stream: true });
                        if (decodedChunk.length > 0) {
                            this._incrementalDecode.chunks.push(decodedChunk);
                        }
                    }
                    catch {
                        this._incrementalDecode = undefined;
                    }
                }
                const progress = this.downloadProgress;
                if (progress.percent < 1) {
                    this.emit('downloadProgress', progress);
                }
                if (this._stopReading || !this.push(data) || this._stopReading) {
                    return;
                }
            }
        }
    }
    // Fail at the call site: a write buffered by `cork()` would otherwise flush through `_write`
    // after the body dispatch began and pass its guard.
    write(chunk, encoding, callback) {
        if (this.isReadonly && !this._dispatchingOwnBody) {
            const error = new TypeError('The stream is read-only: the request body is provided by the `body`, `json` or `form` option.');
            this.destroy(error);
            // Like a write to a destroyed stream, the refused write still reports to its callback.
            const writeCallback = typeof encoding === 'function' ? encoding : callback;
            if (writeCallback) {
                external_node_process_namespaceObject.nextTick(writeCallback, error);
            }
            return false;
        }
        return super.write(chunk, encoding, callback);
    }
    _write(chunk, encoding, callback) {
        // The `body`, `json` or `form` option owns the request body, so a user write would land
        // past the framed `content-length` and corrupt the request.
        if (this.isReadonly && !this._dispatchingOwnBody) {
            callback(new TypeError('The stream is read-only: the request body is provided by the `body`, `json` or `form` option.'));
            return;
        }
        const write = () => {
            if (this._discardBodyWrites) {
                callback();
                return;
            }
            this._hasWrittenBody = true;
            this._writeRequest(chunk, encoding, callback);
        };
        if (this._requestInitialized) {
            write();
        }
        else {
            this._jobs.push(write);
        }
    }
    _final(callback) {
        const endRequest = () => {
            if (this._discardBodyWrites) {
                this._hasWritableBody = false;
                callback();
                return;
            }
            if (this._skipRequestEndInFinal) {
                this._skipRequestEndInFinal = false;
                callback();
                return;
            }
            const request = this._request;
            // We need to check if `this._request` is present,
            // because it isn't when we use cache.
            if (!request || request.destroyed) {
                this._hasWritableBody = false;
                callback();
                return;
            }
            request.end((error) => {
                // The request has been destroyed before `_final` finished.
                // See https://github.com/nodejs/node/issues/39356
                if (request?._writableState?.errored) {
                    return;
                }
                this._hasWritableBody = false;
                if (error) {
                    // `ClientRequest.end()` can report the same failure as the request's `error` event. Route it through Got's retry handling without completing `_final`, so this Duplex does not finish a failed upload.
                    this._beforeError(error);
                    return;
                }
                this._emitUploadComplete(request);
                callback();
            });
        };
        if (this._requestInitialized) {
            endRequest();
        }
        else {
            this._jobs.push(endRequest);
        }
    }
    _destroy(error, callback) {
        this._stopReading = true;
        this.flush = async () => { };
        // Got owns a piped `ServerResponse`: it copied the status code and headers into it, so a
        // request that fails would leave the client waiting forever. A retry only replaces the
        // request, so the destination belongs to whichever attempt comes next. Node emits `close`
        // after `error`, so an `error` listener can still answer the client itself, such as with a
        // 502, and only a destination nobody ended is closed.
        if (!this._retrying) {
            this.once('close', () => {
                this._closePipedServerResponses();
            });
        }
        // Prevent further retries
        this._stopRetry?.();
        this._cancelTimeouts?.();
        clearTimeout(this._requestTimeout);
        this._abortListenerDisposer?.[Symbol.dispose]();
        this._destroyInFlightAlpnSocket();
        if (this.options) {
            // Tear down the body this request dispatched. A hook can install the body for the next
            // attempt before this request is destroyed, and that body must survive the retry.
            this._destroyBody(this._dispatchedBody?.body);
            if (this._dispatchedBody === undefined) {
                // Nothing was ever dispatched, so whatever the options hold was never sent.
                this._destroyBody(this.options.body);
            }
        }
        this._request?.destroy();
        // Workaround: http-timer only sets timings.end when the response emits 'end'.
        // When a stream is destroyed before completion, the 'end' event may not fire,
        // leaving timings.end undefined. This should ideally be fixed in http-timer
        // by listening to the 'close' event, but we handle it here for now.
        // Only set timings.end if there was no error or abort (to maintain semantic correctness).
        const timings = this._request?.timings;
        if (timings && distribution.undefined(timings.end) && !distribution.undefined(timings.response) && distribution.undefined(timings.error) && distribution.undefined(timings.abort)) {
            timings.end = Date.now();
            if (distribution.undefined(timings.phases.total)) {
                timings.phases.download = timings.end - timings.response;
                timings.phases.total = timings.end - timings.start;
            }
        }
        // Preserve custom errors returned by beforeError hooks.
        // For other errors, wrap non-RequestError instances for consistency.
        if (error !== null) {
            const processedByHooks = error instanceof Error && errorsProcessedByHooks.has(error);
            if (!processedByHooks && !(error instanceof RequestError)) {
                error = error instanceof Error
                    ? new RequestError(error.message, error, this)
                    : new RequestError(String(error), {}, this);
            }
        }
        callback(error);
    }
    pipe(destination, options) {
        if (isPipedServerResponse(destination)) {
            this._pipedServerResponses.add(destination);
        }
        return super.pipe(destination, options);
    }
    unpipe(destination) {
        if (destination === undefined) {
            this._pipedServerResponses.clear();
        }
        else if (isPipedServerResponse(destination)) {
            this._pipedServerResponses.delete(destination);
        }
        super.unpipe(destination);
        return this;
    }
    // Got copied the status code and headers into every `ServerResponse` it is piped into, so it
    // owns the response and has to end it. A request that ends without one leaves the client
    // waiting forever.
    _closePipedServerResponses() {
        for (const destination of this._pipedServerResponses) {
            if (destination.writableEnded) {
                continue;
            }
            // An HTTP/2 stream destroyed without an error is reset with `NO_ERROR`, which the client
            // reads as a complete response, so the failure has to be in the reset code.
            if (destination instanceof external_node_http2_.Http2ServerResponse) {
                destination.stream.close(external_node_http2_.constants.NGHTTP2_INTERNAL_ERROR);
            }
            else {
                destination.destroy();
            }
        }
        this._pipedServerResponses.clear();
    }
    _attachAbortListener() {
        this._abortListenerDisposer?.[Symbol.dispose]();
        this._abortListenerDisposer = undefined;
        if (this.destroyed) {
            return;
        }
        const { signal } = this.options;
        if (!signal) {
            return;
        }
        const abort = () => {
            this._aborted = true;
            this._destroyInFlightAlpnSocket();
            // See https://developer.mozilla.org/en-US/docs/Web/API/AbortSignal/timeout_static#return_value
            if (signal.reason?.name === 'TimeoutError') {
                this.destroy(this._createTimeoutError(signal.reason));
            }
            else {
                this.destroy(new AbortError(this));
            }
        };
        if (signal.aborted) {
            abort();
        }
        else {
            this._abortListenerDisposer = (0,external_node_events_.addAbortListener)(signal, abort);
        }
    }
    _createTimeoutError(error) {
        return new TimeoutError(error, this.timings ?? createPreRequestErrorTimings(), this);
    }
    _destroyInFlightAlpnSocket() {
        this._requestOptions?._alpnSocket?.destroy();
    }
    _shouldIncrementallyDecodeBody() {
        const { responseType, encoding } = this.options;
        return Boolean(this._noPipe)
            && (responseType === 'text' || responseType === 'json')
            && isUtf8Encoding(encoding);
    }
    _checkContentLengthMismatch() {
        if (this.options.strictContentLength && this._expectedContentLength !== undefined) {
            // Use compressed bytes count when available (for compressed responses),
            // otherwise use _downloadedSize (for uncompressed responses)
            const actualSize = this._compressedBytesCount ?? this._downloadedSize;
            if (actualSize !== this._expectedContentLength) {
                this._beforeError(new ReadError({
                    message: `Content-Length mismatch: expected ${this._expectedContentLength} bytes, received ${actualSize} bytes`,
                    name: 'Error',
                    code: 'ERR_HTTP_CONTENT_LENGTH_MISMATCH',
                }, this));
                return true;
            }
        }
        return false;
    }
    // A `beforeRequest` or `beforeRedirect` hook can assign a `FormData` body, and only this
    // place turns one into a stream, so it runs again once the hooks have had their say.
    _serializeFormDataBody(options, contentTypeChanged) {
        if (!(options.body instanceof FormData)) {
            return;
        }
        const headers = options.getInternalHeaders();
        const { body, contentType } = serializeNativeFormDataBody(options.body);
        // Every serialization picks a new boundary, so a header Got generated for an earlier one
        // no longer names it. Only a header the caller set itself survives.
        const contentTypeWasGenerated = !contentTypeChanged && (distribution.undefined(headers['content-type']) || this._nativeFormDataBody?.contentTypeWasGenerated === true);
        this._nativeFormDataBody = {
            form: options.body,
            body,
            contentTypeWasGenerated,
        };
        if (contentTypeWasGenerated) {
            headers['content-type'] = contentType;
        }
        options.body = body;
    }
    async _finalizeBody() {
        const { options } = this;
        const headers = options.getInternalHeaders();
        const isForm = !distribution.undefined(options.form);
        // eslint-disable-next-line @typescript-eslint/naming-convention
        const isJSON = !distribution.undefined(options.json);
        const isBody = !distribution.undefined(options.body);
        const cannotHaveBody = !methodCanHaveBody(options);
        if (isForm || isJSON || isBody) {
            if (cannotHaveBody) {
                throw new TypeError(`The \`${options.method}\` method cannot be used with a body`);
            }
            // Serialize body
            const noContentType = distribution.undefined(headers['content-type']);
            if (isBody) {
                if (Object.prototype.toString.call(options.body) === '[object FormData]' && !(options.body instanceof FormData)) {
                    throw new TypeError('Non-native FormData is not supported. Use globalThis.FormData instead.');
                }
                this._serializeFormDataBody(options, false);
            }
            else if (isForm) {
                if (noContentType) {
                    headers['content-type'] = 'application/x-www-form-urlencoded';
                }
                const { form } = options;
                options.form = undefined;
                options.body = (new URLSearchParams(form)).toString();
            }
            else {
                if (noContentType) {
                    headers['content-type'] = 'application/json';
                }
                const { json } = options;
                options.json = undefined;
                options.body = options.stringifyJson(json);
            }
            const uploadBodySize = getBodySize(options.body, headers);
            // See https://tools.ietf.org/html/rfc7230#section-3.3.2
            // A user agent SHOULD send a Content-Length in a request message when
            // no Transfer-Encoding is sent and the request method defines a meaning
            // for an enclosed payload body.  For example, a Content-Length header
            // field is normally sent in a POST request even when the value is 0
            // (indicating an empty payload body).  A user agent SHOULD NOT send a
            // Content-Length header field when the request message does not contain
            // a payload body and the method semantics do not anticipate such a
            // body.
            if (distribution.undefined(headers['content-length']) && distribution.undefined(headers['transfer-encoding']) && !cannotHaveBody && !distribution.undefined(uploadBodySize)) {
                headers['content-length'] = String(uploadBodySize);
            }
        }
        if (options.responseType === 'json' && !('accept' in headers)) {
            headers.accept = 'application/json';
        }
        this._bodySize = parseContentLength(headers['content-length']);
    }
    async _onResponseBase(response) {
        // This will be called e.g. when using cache so we need to check if this request has been aborted.
        if (this.isAborted) {
            return;
        }
        const { options } = this;
        const { url } = options;
        const nativeResponse = response;
        const statusCode = response.statusCode;
        const { method } = options;
        const redirectLocationHeader = response.headers.location;
        const redirectLocation = Array.isArray(redirectLocationHeader) ? redirectLocationHeader[0] : redirectLocationHeader;
        const isRedirect = Boolean(redirectLocation && redirectCodes.has(statusCode));
        // Skip decompression for responses that must not have bodies per RFC 9110:
        // - HEAD responses (any status code)
        // - 1xx (Informational): 100, 101, 102, 103, etc.
        // - 204 (No Content)
        // - 205 (Reset Content)
        // - 304 (Not Modified)
        const hasNoBody = method === 'HEAD'
            || (statusCode >= 100 && statusCode < 200)
            || statusCode === 204
            || statusCode === 205
            || statusCode === 304;
        const prepareResponse = (response) => {
            if (!Object.hasOwn(response, 'headers')) {
                Object.defineProperty(response, 'headers', {
                    value: response.headers,
                    enumerable: true,
                    writable: true,
                    configurable: true,
                });
            }
            response.statusMessage ||= external_node_http_.STATUS_CODES[statusCode]; // eslint-disable-line @typescript-eslint/prefer-nullish-coalescing -- The status message can be empty.
            response.url = stripUrlAuth(options.url);
            response.requestUrl = this.requestUrl;
            response.redirectUrls = this.redirectUrls;
            response.request = this;
            response.isFromCache = nativeResponse.fromCache ?? false;
            response.ip = this.ip;
            response.retryCount = this.retryCount;
            response.ok = isResponseOk(response);
            return response;
        };
        let typedResponse = prepareResponse(response);
        // Redirect responses that will be followed are drained raw. Decompressing them can
        // turn an irrelevant redirect body into a client-side failure or decompression DoS.
        // prepareResponse already evaluated the redirect predicate.
        const shouldFollowRedirect = isRedirect && !typedResponse.ok;
        if (options.decompress && !hasNoBody && !shouldFollowRedirect) {
            response = decompressResponseBody(response);
            copyRedirectDecision(typedResponse, response);
            typedResponse = prepareResponse(response);
            // When strictContentLength is enabled, track the compressed bytes emitted by the native response.
            if (options.strictContentLength && response !== nativeResponse) {
                this._compressedBytesCount = 0;
                nativeResponse.on('data', (chunk) => {
                    this._compressedBytesCount += byteLength(chunk);
                });
            }
        }
        // `decompressResponse` wraps the response stream when it decompresses,
        // so `response !== nativeResponse` indicates decompression happened.
        const wasDecompressed = response !== nativeResponse;
        this._responseSize = parseContentLength(response.headers['content-length']);
        this.response = typedResponse;
        this._incrementalDecode = this._shouldIncrementallyDecodeBody() ? { decoder: new TextDecoder(), chunks: [] } : undefined;
        // Publish response start event. A subscriber gets a copy, so it cannot change the response.
        publishResponseStart({
            requestId: this._requestId,
            url: typedResponse.url,
            statusCode,
            headers: { ...response.headers },
            isFromCache: typedResponse.isFromCache,
        });
        response.once('error', (error) => {
            // Node synthesizes ECONNRESET for close-delimited responses after all body
            // bytes have been delivered. Only ignore that late synthetic error on the
            // native response. Wrapped decompression streams surface real checksum and
            // truncation failures after the underlying response has completed.
            if (!wasDecompressed
                && response.complete
                && this._responseSize === undefined
                && error.code === 'ECONNRESET') {
                return;
            }
            this._aborted = true;
            this._beforeError(new ReadError(error, this));
        });
        response.once('aborted', () => {
            // Without Content-Length, connection close is the intended EOF signal (RFC 9110 §8.6),
            // not a premature abort. For wrapped decompression streams, rely on the native
            // response completion state because the wrapper strips `content-length`.
            if (this._responseSize === undefined && nativeResponse.complete) {
                return;
            }
            this._aborted = true;
            // Check if there's a content-length mismatch to provide a more specific error
            if (!this._checkContentLengthMismatch()) {
                this._beforeError(createServerAbortedError(this));
            }
        });
        let canFinalizeResponse = false;
        const handleResponseEnd = () => {
            if (!canFinalizeResponse
                || !response.readableEnded) {
                return;
            }
            canFinalizeResponse = false;
            if (this._stopReading) {
                return;
            }
            // Validate content-length if it was provided
            // Per RFC 9112: "If the sender closes the connection before the indicated number
            // of octets are received, the recipient MUST consider the message to be incomplete"
            // The guards stay apart: merging them would skip this check whenever reading stopped.
            // eslint-disable-next-line unicorn/prefer-combined-guards
            if (this._checkContentLengthMismatch()) {
                return;
            }
            this._responseSize = this._downloadedSize;
            this.emit('downloadProgress', this.downloadProgress);
            // Publish response end event
            publishResponseEnd({
                requestId: this._requestId,
                url: typedResponse.url,
                statusCode,
                bodySize: this._downloadedSize,
                timings: this.timings,
            });
            this.push(null);
        };
        if (!shouldFollowRedirect) {
            // The request budget ends with the final response body.
            response.once('end', () => {
                clearTimeout(this._requestTimeout);
                /*
                A stream request is never destroyed once it ends, so its abort listener would
                outlive it and a shared signal firing later would destroy a finished request. The
                promise API disposes it when the request itself is destroyed, which must not
                happen before the `afterResponse` hooks have run.
                */
                if (!this._noPipe && this.writableFinished) {
                    this._abortListenerDisposer?.[Symbol.dispose]();
                    this._abortListenerDisposer = undefined;
                }
            });
            // `set-cookie` handling below awaits the cookie jar. A fast response can fully
            // end during that await, so we need to observe `end` early without completing
            // the outward stream until cookie handling has finished.
            response.once('end', handleResponseEnd);
        }
        const rawCookies = response.headers['set-cookie'];
        const responseRawBodyPromise = this._noPipe
            && distribution.object(options.cookieJar)
            && rawCookies !== undefined
            && !shouldFollowRedirect
            ? this._setRawBody(response)
            : undefined;
        if (distribution.object(options.cookieJar) && rawCookies) {
            try {
                // Apply fields in wire order so asynchronous stores cannot restore a replaced cookie.
                for (const rawCookie of rawCookies) {
                    try {
                        // eslint-disable-next-line no-await-in-loop
                        await options.cookieJar.setCookie(rawCookie, url.toString());
                    }
                    catch (error) {
                        if (!options.ignoreInvalidCookies) {
                            throw error;
                        }
                    }
                }
            }
            catch (error) {
                if (responseRawBodyPromise) {
                    await responseRawBodyPromise;
                }
                this._beforeError(error);
                return;
            }
        }
        // The above is running a promise, therefore we need to check if this request has been aborted yet again.
        if (this.isAborted) {
            return;
        }
        if (shouldFollowRedirect) {
            // We're being redirected, we don't care about the response.
            // It'd be best to abort the request, but we can't because
            // we would have to sacrifice the TCP connection. We don't want that.
            response.resume();
            this._cancelTimeouts?.();
            this._unproxyEvents?.();
            if (this.redirectUrls.length >= options.maxRedirects) {
                this._beforeError(new MaxRedirectsError(this));
                return;
            }
            this._request = undefined;
            // Reset progress for the new request.
            this._downloadedSize = 0;
            this._uploadedSize = 0;
            const updatedOptions = new Options(undefined, undefined, this.options);
            try {
                // We need this in order to support UTF-8
                const redirectBuffer = external_node_buffer_.Buffer.from(redirectLocation, 'binary').toString();
                const redirectUrl = new URL(redirectBuffer, url);
                // A redirect without a fragment inherits the fragment of the original URL. See https://www.rfc-editor.org/rfc/rfc9110#section-10.2.2
                if (!redirectBuffer.includes('#')) {
                    const previousUrl = url;
                    redirectUrl.hash = previousUrl.hash === '' && previousUrl.href.endsWith('#') ? '#' : previousUrl.hash;
                }
                const currentUnixSocketPath = getUnixSocketPath(url);
                const redirectUnixSocketPath = getUnixSocketPath(redirectUrl);
                if ((redirectUrl.protocol === 'unix:' && redirectUnixSocketPath === undefined)
                    // Relative redirects on the same socket are fine, but a redirect must not switch to a different local socket.
                    || (redirectUnixSocketPath !== undefined && currentUnixSocketPath !== redirectUnixSocketPath)) {
                    this._beforeError(new RequestError('Cannot redirect to UNIX socket', {}, this));
                    return;
                }
                // Redirecting to a different site, clear sensitive data.
                // For UNIX sockets, different socket paths are also different origins.
                const isDifferentOrigin = redirectUrl.origin !== url.origin
                    || currentUnixSocketPath !== redirectUnixSocketPath;
                const serverRequestedGet = statusCode === 303 && updatedOptions.method !== 'GET' && updatedOptions.method !== 'HEAD';
                // Avoid forwarding a POST body to a different origin on historical 301/302 redirects.
                const crossOriginRequestedGet = isDifferentOrigin
                    && (statusCode === 301 || statusCode === 302)
                    && updatedOptions.method === 'POST';
                const canRewrite = statusCode !== 307 && statusCode !== 308;
                const userRequestedGet = updatedOptions.methodRewriting && canRewrite && updatedOptions.method !== 'HEAD';
                const shouldDropBody = serverRequestedGet || crossOriginRequestedGet || userRequestedGet;
                if (shouldDropBody) {
                    updatedOptions.method = 'GET';
                    this._dropBody(updatedOptions);
                }
                else if (isDifferentOrigin
                    && canRewrite
                    && updatedOptions.method !== 'QUERY'
                    && this._hasBodyForRedirect(updatedOptions)) {
                    this._dropBody(updatedOptions);
                }
                if (isDifferentOrigin) {
                    // On cross-origin redirects, strip sensitive headers and any credentials
                    // embedded in the redirect URL itself to prevent a malicious server from
                    // leaking them to a third party. 307/308 redirects preserve the method and replayable body per RFC; QUERY does the same on 301/302.
                    updatedOptions.h2session = undefined;
                    this._stripCrossOriginState(updatedOptions, redirectUrl);
                }
                else {
                    redirectUrl.username = updatedOptions.username;
                    redirectUrl.password = updatedOptions.password;
                }
                // Redirect URLs are resolved internally. Restore the user option before hooks run so hook mutations still honor it.
                const { allowAbsoluteUrls } = updatedOptions;
                try {
                    updatedOptions.allowAbsoluteUrls = true;
                    updatedOptions.url = redirectUrl;
                }
                finally {
                    updatedOptions.allowAbsoluteUrls = allowAbsoluteUrls;
                }
                this.redirectUrls.push(redirectUrl);
                const boundaryBeforeRedirectHooks = getUrlPrefixBoundary(updatedOptions);
                const bodyBeforeRedirectHooks = updatedOptions.body;
                const h2sessionBeforeRedirectHooks = updatedOptions.h2session;
                const preHookState = isDifferentOrigin
                    ? undefined
                    : {
                        ...snapshotCrossOriginState(updatedOptions),
                        url: new URL(updatedOptions.url),
                    };
                this._checkRequestTimeout();
                if (this._stopReading) {
                    return;
                }
                const changedState = await updatedOptions.trackStateMutations(async (changedState) => {
                    for (const hook of updatedOptions.hooks.beforeRedirect) {
                        // eslint-disable-next-line no-await-in-loop
                        await hook(updatedOptions, typedResponse);
                        this._checkRequestTimeout(updatedOptions);
                        if (this._stopReading) {
                            break;
                        }
                    }
                    return changedState;
                });
                if (this._stopReading) {
                    return;
                }
                if (hasUrlOrPrefixUrlBoundaryChanged(updatedOptions, updatedOptions.url, boundaryBeforeRedirectHooks)) {
                    assertUrlHasSameOriginAsPrefixUrlIfNeeded(updatedOptions, updatedOptions.url);
                }
                updatedOptions.clearUnchangedCookieHeader(preHookState, changedState);
                // If a beforeRedirect hook changed the URL to a different origin,
                // strip sensitive headers that were preserved for the original origin.
                // When isDifferentOrigin was already true, headers were already stripped above.
                if (!isDifferentOrigin) {
                    const state = preHookState;
                    const hookUrl = updatedOptions.url;
                    const hookChangedOrigin = !isSameOrigin(state.url, hookUrl);
                    if (hookChangedOrigin
                        && (statusCode === 301 || statusCode === 302)
                        && updatedOptions.method === 'POST') {
                        updatedOptions.method = 'GET';
                        this._dropBody(updatedOptions);
                    }
                    if (hookChangedOrigin) {
                        if (updatedOptions.h2session === h2sessionBeforeRedirectHooks) {
                            updatedOptions.h2session = undefined;
                        }
                        if (canRewrite
                            && updatedOptions.method !== 'QUERY'
                            && this._hasUnchangedBodyForRedirect(updatedOptions, state, changedState)) {
                            this._dropBody(updatedOptions);
                        }
                        this._stripUnchangedCrossOriginState(updatedOptions, hookUrl, {
                            ...state,
                            changedState,
                            preserveUsername: hasExplicitCredentialInUrlChange(changedState, hookUrl, 'username')
                                || isCrossOriginCredentialChanged(state.url, hookUrl, 'username'),
                            preservePassword: hasExplicitCredentialInUrlChange(changedState, hookUrl, 'password')
                                || isCrossOriginCredentialChanged(state.url, hookUrl, 'password'),
                        });
                    }
                }
                const nativeFormDataBody = this._nativeFormDataBody;
                const bodyUnchangedByHooks = updatedOptions.body === bodyBeforeRedirectHooks;
                const wasNonReplayable = isNonReplayableBody(bodyBeforeRedirectHooks);
                const bodyWasRemovedByHooks = changedState.has('body')
                    && !hasBodyOption(updatedOptions)
                    && this.options.body === bodyBeforeRedirectHooks
                    && (!bodyUnchangedByHooks || this._hasWrittenBody || this._hasWritableBody);
                if (bodyWasRemovedByHooks) {
                    this._dropBody(updatedOptions);
                }
                else if (!bodyUnchangedByHooks
                    && wasNonReplayable
                    && this.options.body === bodyBeforeRedirectHooks) {
                    // A hook replaced or removed the body, so dispose of the original non-replayable one.
                    this._destroyBody(bodyBeforeRedirectHooks);
                }
                // Any redirect that keeps the body must replay it, including same-origin 301/302 redirects that keep the method.
                if (this._hasBodyForRedirect(updatedOptions)) {
                    if (bodyUnchangedByHooks
                        && nativeFormDataBody !== undefined
                        && updatedOptions.body === nativeFormDataBody.body) {
                        this._reserializeFormDataBody(updatedOptions, changedState.has('content-type'));
                    }
                    else if (bodyUnchangedByHooks
                        && (wasNonReplayable || (distribution.undefined(updatedOptions.body) && (this._hasWrittenBody || this._hasWritableBody)))) {
                        // Body-preserving redirects must replay the body, so follow the HTTP spec and other clients by failing for unchanged non-replayable bodies. Hooks may supply a fresh body.
                        this._dropBody(updatedOptions);
                        this._beforeError(new RequestError('Cannot follow redirect with a non-replayable body', {}, this));
                        return;
                    }
                }
                // Hook-replaced bodies must update the inherited Content-Length unless the hook set one explicitly.
                if (!bodyUnchangedByHooks && !changedState.has('content-length') && !distribution.undefined(updatedOptions.body)) {
                    this._serializeFormDataBody(updatedOptions, changedState.has('content-type'));
                    this._refreshBodySize(updatedOptions);
                }
                this._assertMethodCanHaveBody(updatedOptions, changedState);
                // Publish redirect event
                publishRedirect({
                    requestId: this._requestId,
                    fromUrl: stripUrlAuth(url),
                    toUrl: stripUrlAuth(updatedOptions.url),
                    statusCode,
                });
                this.emit('redirect', updatedOptions, typedResponse);
                this.options = updatedOptions;
                await this._makeRequest();
            }
            catch (error) {
                this._beforeError(error);
                return;
            }
            return;
        }
        // `HTTPError`s always have `error.response.body` defined.
        // Therefore, we cannot retry if `options.throwHttpErrors` is false.
        // On the last retry, if `options.throwHttpErrors` is false, we would need to return the body,
        // but that wouldn't be possible since the body would be already read in `error.response.body`.
        if (options.isStream && options.throwHttpErrors && !isResponseOk(typedResponse)) {
            this._beforeError(new HTTPError(typedResponse));
            return;
        }
        // Store the expected content-length from the native response for validation.
        // This is the content-length before decompression, which is what actually gets transferred.
        // Skip storing for responses that shouldn't have bodies per RFC 9110.
        // When decompression occurs, only store if strictContentLength is enabled.
        if (!hasNoBody && (!wasDecompressed || options.strictContentLength)) {
            const expectedLength = parseContentLength(nativeResponse.headers['content-length']);
            if (expectedLength !== undefined && expectedLength >= 0) {
                this._expectedContentLength = expectedLength;
            }
        }
        this.emit('downloadProgress', this.downloadProgress);
        response.on('readable', () => {
            if (this._triggerRead) {
                this._read();
            }
        });
        this.on('resume', () => {
            response.resume();
        });
        this.on('pause', () => {
            response.pause();
        });
        if (this._noPipe) {
            const captureFromResponse = response.readableEnded || responseRawBodyPromise !== undefined;
            if (!captureFromResponse) {
                canFinalizeResponse = true;
                handleResponseEnd();
            }
            const success = responseRawBodyPromise
                ? await responseRawBodyPromise
                : await this._setRawBody(captureFromResponse ? response : this);
            if (captureFromResponse) {
                canFinalizeResponse = true;
                handleResponseEnd();
            }
            if (success) {
                this.emit('response', response);
            }
            return;
        }
        this.emit('response', response);
        const connectionListedHeaders = getConnectionListedHeaders(response.headers);
        for (const destination of this._pipedServerResponses) {
            if (destination.headersSent) {
                continue;
            }
            for (const key in response.headers) {
                if (!Object.hasOwn(response.headers, key)) {
                    continue;
                }
                // When decompression occurred, skip content-encoding and content-length
                // as they refer to the compressed data, not the decompressed stream.
                // Hop-by-hop headers apply to the upstream connection only, so an intermediary must
                // not forward them either.
                // The guards stay apart: the one above filters to own properties, this one decides
                // which of them may be forwarded.
                // eslint-disable-next-line unicorn/prefer-combined-guards
                if ((wasDecompressed && (key === 'content-encoding' || key === 'content-length')) || hopByHopHeaders.has(key) || connectionListedHeaders.has(key)) {
                    continue;
                }
                const value = response.headers[key];
                // Skip if value is undefined
                if (value !== undefined) {
                    destination.setHeader(key, value);
                }
            }
            destination.statusCode = statusCode;
        }
        if (this._triggerRead) {
            this._read();
        }
        canFinalizeResponse = true;
        handleResponseEnd();
    }
    async _setRawBody(from = this) {
        try {
            // Errors are emitted via the `error` event
            const fromArray = await from.toArray();
            const hasNonStringChunk = fromArray.some(chunk => typeof chunk !== 'string');
            const rawBody = hasNonStringChunk
                ? concatUint8Arrays(fromArray.map(chunk => typeof chunk === 'string' ? external_node_buffer_.Buffer.from(chunk, from.readableEncoding ?? undefined) : chunk))
                : new Uint8Array(external_node_buffer_.Buffer.from(fromArray.join(''), from.readableEncoding ?? undefined));
            const shouldUseIncrementalDecodedBody = from === this && this._incrementalDecode !== undefined;
            // On retry Request is destroyed with no error, therefore the above will successfully resolve.
            // So in order to check if this was really successful, we need to check if it has been properly ended.
            if (!this.isAborted && this.response) {
                this.response.rawBody = rawBody;
                if (from !== this) {
                    this._downloadedSize = rawBody.byteLength;
                }
                if (shouldUseIncrementalDecodedBody) {
                    try {
                        const { decoder, chunks } = this._incrementalDecode;
                        const finalDecodedChunk = decoder.decode();
                        if (finalDecodedChunk.length > 0) {
                            chunks.push(finalDecodedChunk);
                        }
                        cacheDecodedBody(this.response, chunks.join(''));
                    }
                    catch { }
                }
                return true;
            }
        }
        catch { }
        finally {
            this._incrementalDecode = undefined;
        }
        return false;
    }
    async _onResponse(response) {
        try {
            await this._onResponseBase(response);
        }
        catch (error) {
            /* istanbul ignore next: better safe than sorry */
            this._beforeError(error);
        }
    }
    _onRequest(request, useCache) {
        const { options } = this;
        const { timeout, url } = options;
        // Publish request start event. A subscriber gets a copy, so it cannot change the request.
        publishRequestStart({
            requestId: this._requestId,
            url: getSanitizedUrl(this.options),
            method: options.method,
            headers: { ...options.headers },
        });
        utils_timer(request);
        // `timeout.socket` is the inactivity timeout. The HTTP/2 request maps it onto the
        // stream, so a stalled response body still times out.
        this._cancelTimeouts = timedOut(request, timeout, url);
        let lastRequestError;
        const responseEventName = useCache ? 'cacheableResponse' : 'response';
        request.once(responseEventName, (response) => {
            void this._onResponse(response);
        });
        const emitRequestError = (error) => {
            this._aborted = true;
            // Force clean-up, because some packages (e.g. nock) don't do this.
            request.destroy();
            const wrappedError = error instanceof timed_out_TimeoutError ? this._createTimeoutError(error) : new RequestError(error.message, error, this);
            this._beforeError(wrappedError);
        };
        request.once('error', (error) => {
            lastRequestError = error;
            // Ignore errors from requests superseded by a redirect.
            if (this._request !== request) {
                return;
            }
            /*
            Transient write errors (EPIPE, ECONNRESET) often fire during redirects when the
            server closes the connection after sending the redirect response. Defer by one
            microtask to let the response event make the request stale.
            */
            if (isTransientWriteError(error)) {
                queueMicrotask(() => {
                    /*
                    `request.writableEnded` and `request.destroyed` are not checked here: a
                    request whose body finished writing still fails when the connection resets
                    before the response, so a response-less reset is the real failure and not a
                    superseded request. A response that already arrived makes it stale.
                    */
                    if (this._request !== request || hasResponse(request)) {
                        return;
                    }
                    emitRequestError(error);
                });
                return;
            }
            emitRequestError(error);
        });
        if (!useCache) {
            request.once('close', () => {
                if (this._request !== request || hasResponse(request) || this._stopReading) {
                    return;
                }
                this._beforeError(lastRequestError ?? createServerAbortedError(this));
            });
        }
        this._unproxyEvents = proxyEvents(request, this, proxiedRequestEvents);
        this._request = request;
        this._bodySize = parseContentLength(options.headers['content-length']);
        this.emit('uploadProgress', this.uploadProgress);
        this._sendBody();
        this.emit('request', request);
    }
    _isRequestStale(request) {
        return this._request !== request || hasResponse(request) || request.destroyed || request.writableEnded;
    }
    _cancelActiveWebBodyReader(body) {
        const activeReader = this._activeWebBodyReader;
        if (activeReader?.body !== body) {
            return false;
        }
        this._activeWebBodyReader = undefined;
        try {
            void activeReader.reader.cancel().catch(core_noop);
        }
        catch { }
        finally {
            activeReader.reader.releaseLock();
        }
        return true;
    }
    async *_iterateWebBody(body) {
        const reader = body.getReader();
        this._activeWebBodyReader = { body, reader };
        try {
            while (true) {
                // eslint-disable-next-line no-await-in-loop
                const { done, value } = await reader.read();
                if (done) {
                    return;
                }
                yield value;
            }
        }
        finally {
            this._cancelActiveWebBodyReader(body);
        }
    }
    async *_iterateBody(body) {
        // Keep source errors separate from socket write failures, which may be retried.
        try {
            yield* body instanceof ReadableStream ? this._iterateWebBody(body) : body;
        }
        catch (error) {
            throw new UploadError(normalizeError(error), this);
        }
    }
    async _asyncWrite(chunk, request = this) {
        return new Promise((resolve, reject) => {
            if (request === this) {
                super.write(chunk, error => {
                    if (error) {
                        reject(error);
                        return;
                    }
                    resolve();
                });
                return;
            }
            this._writeRequest(chunk, undefined, error => {
                if (error) {
                    reject(error);
                    return;
                }
                resolve();
            }, request);
        });
    }
    _sendBody() {
        // Send body
        const { body } = this.options;
        this._dispatchedBody = { body };
        // From here on, every write routed through `_write` is Got's own body dispatch, so a
        // read-only stream no longer needs to refuse it.
        this._dispatchingOwnBody = true;
        const currentRequest = this.redirectUrls.length === 0 && !this._discardBodyWrites ? this : this._request ?? this;
        if (distribution.nodeStream(body) && currentRequest === this) {
            // Hooks and handlers can replace the body after the constructor registered its listener.
            body.off('error', this._onBodyError).once('error', this._onBodyError);
            body.pipe(currentRequest);
        }
        else if (distribution.buffer(body)) {
            // Buffer should be sent directly without conversion
            this._writeBodyInChunks(body, currentRequest);
        }
        else if (ArrayBuffer.isView(body)) {
            // ArrayBuffer views should be treated like buffers, not iterated over
            // Create a Uint8Array view over the data (Node.js streams accept Uint8Array)
            const uint8View = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
            this._writeBodyInChunks(uint8View, currentRequest);
        }
        else if (isIterableBody(body)) {
            (async () => {
                const isInitialRequest = currentRequest === this;
                const bodyOptions = this.options;
                const isBodySuperseded = () => this.options !== bodyOptions || this.options.body !== body;
                try {
                    for await (const chunk of this._iterateBody(body)) {
                        if (isBodySuperseded()) {
                            return;
                        }
                        await this._asyncWrite(chunk, currentRequest);
                        if (isBodySuperseded()) {
                            return;
                        }
                    }
                    if (!isBodySuperseded()) {
                        if (isInitialRequest) {
                            super.end();
                            return;
                        }
                        await this._endWritableRequest(currentRequest);
                    }
                }
                catch (error) {
                    if (isBodySuperseded()) {
                        return;
                    }
                    this._beforeError(error);
                }
            })();
        }
        else if (distribution.undefined(body)) {
            // No body to send, end the request
            if (currentRequest !== this) {
                void (async () => {
                    try {
                        await this._endWritableRequest(currentRequest);
                    }
                    catch (error) {
                        this._beforeError(error);
                    }
                })();
            }
            else if ((this._noPipe ?? false) || !this._methodCanHaveBody) {
                currentRequest.end();
            }
        }
        else {
            // Handles string bodies (from json/form options).
            this._writeBodyInChunks(stringToUint8Array(body), currentRequest);
        }
    }
    /*
    Write a body buffer in chunks to enable granular `uploadProgress` events.

    Without chunking, string/Uint8Array/TypedArray bodies are written in a single call, causing `uploadProgress` to only emit 0% and 100% with nothing in between.

    The 64 KB chunk size matches Node.js fs stream defaults.
    */
    _writeBodyInChunks(buffer, currentRequest) {
        const isInitialRequest = currentRequest === this;
        (async () => {
            let request;
            try {
                request = isInitialRequest ? this._request : currentRequest;
                const activeRequest = request;
                if (!activeRequest) {
                    if (isInitialRequest) {
                        super.end();
                    }
                    return;
                }
                if (activeRequest.destroyed) {
                    return;
                }
                await this._writeChunksToRequest(buffer, activeRequest);
                if (this._isRequestStale(activeRequest)) {
                    this._finalizeStaleChunkedWrite(activeRequest, isInitialRequest);
                    return;
                }
                if (isInitialRequest) {
                    super.end();
                    return;
                }
                await this._endWritableRequest(activeRequest);
            }
            catch (error) {
                const normalizedError = normalizeError(error);
                // Transient write errors (EPIPE, ECONNRESET) are handled by the request-level
                // error and close handlers. For initial redirected writes, still finalize
                // writable state once the stale transition becomes observable.
                if (isTransientWriteError(normalizedError)) {
                    if (isInitialRequest && request) {
                        const initialRequest = request;
                        let didFinalize = false;
                        const finalizeIfStale = () => {
                            if (didFinalize || !this._isRequestStale(initialRequest)) {
                                return;
                            }
                            didFinalize = true;
                            this._finalizeStaleChunkedWrite(initialRequest, true);
                        };
                        finalizeIfStale();
                        if (!didFinalize) {
                            initialRequest.once('response', finalizeIfStale);
                            queueMicrotask(finalizeIfStale);
                        }
                    }
                    return;
                }
                if (!isInitialRequest && this._isRequestStale(currentRequest)) {
                    return;
                }
                this._beforeError(normalizedError);
            }
        })();
    }
    _finalizeStaleChunkedWrite(request, isInitialRequest) {
        if (!request.destroyed && !request.writableEnded) {
            request.destroy();
        }
        if (isInitialRequest) {
            // Finalize writable state without ending the active redirected request.
            this._skipRequestEndInFinal = true;
            super.end();
        }
    }
    _emitUploadComplete(request) {
        this._bodySize = this._uploadedSize;
        this.emit('uploadProgress', this.uploadProgress);
        request.emit('upload-complete');
    }
    async _endWritableRequest(request) {
        await new Promise((resolve, reject) => {
            request.end((error) => {
                if (error) {
                    reject(error);
                    return;
                }
                if (this._request === request && !request.destroyed) {
                    this._emitUploadComplete(request);
                }
                resolve();
            });
        });
    }
    _stripCrossOriginState(options, urlToClear) {
        for (const header of crossOriginStripHeaders) {
            options.deleteInternalHeader(header);
        }
        options.username = '';
        options.password = '';
        urlToClear.username = '';
        urlToClear.password = '';
    }
    _stripUnchangedCrossOriginState(options, urlToClear, state) {
        const headers = options.getInternalHeaders();
        for (const header of crossOriginStripHeaders) {
            if (!state.changedState.has(header) && headers[header] === state.headers[header]) {
                options.deleteInternalHeader(header);
            }
        }
        if (!state.preserveUsername) {
            options.username = '';
            urlToClear.username = '';
        }
        if (!state.preservePassword) {
            options.password = '';
            urlToClear.password = '';
        }
    }
    get _methodCanHaveBody() {
        return methodCanHaveBody(this.options);
    }
    _canWriteBody() {
        return !this._noPipe && !this.isReadonly && this._methodCanHaveBody;
    }
    _hasBodyForRedirect(options) {
        return hasBodyOption(options) || this._hasWrittenBody || this._hasWritableBody;
    }
    _hasUnchangedBodyForRedirect(options, state, changedState) {
        return !hasBodyOptionChanged(changedState)
            && this._hasBodyForRedirect(options)
            && isBodyUnchanged(options, state);
    }
    // A hook that switched to a method that cannot carry a body must drop or replace the body,
    // the same way the initial request preparation requires.
    _assertMethodCanHaveBody(options, changedState) {
        if (changedState.has('method') && !distribution.undefined(options.body) && !methodCanHaveBody(options)) {
            throw new TypeError(`The \`${options.method}\` method cannot be used with a body`);
        }
    }
    _refreshBodySize(options) {
        const bodySize = distribution.undefined(options.body) || !distribution.undefined(options.getInternalHeaders()['transfer-encoding']) ? undefined : getBodySize(options.body, undefined);
        if (bodySize === undefined) {
            options.deleteInternalHeader('content-length');
        }
        else {
            options.setInternalHeader('content-length', String(bodySize));
        }
        this._bodySize = bodySize;
    }
    _dropBody(updatedOptions) {
        const { body } = this.options;
        const updatedBody = updatedOptions.body;
        const hadOptionBody = hasBodyOption(this.options);
        this.options.clearBody();
        this._destroyBody(body);
        if (updatedBody !== body) {
            this._destroyBody(updatedBody);
        }
        if (!hadOptionBody && !this.writableEnded) {
            this._skipRequestEndInFinal = true;
            super.end();
        }
        updatedOptions.clearBody();
        this._bodySize = undefined;
        this._hasWrittenBody = false;
        this._hasWritableBody = false;
    }
    _reserializeFormDataBody(options, contentTypeChanged) {
        const nativeFormDataBody = this._nativeFormDataBody;
        // Native FormData generates a fresh stream and boundary, so re-serialize it to replay the upload.
        this._destroyBody(options.body);
        const { body, contentType } = serializeNativeFormDataBody(nativeFormDataBody.form);
        nativeFormDataBody.body = body;
        options.body = body;
        if (contentTypeChanged) {
            nativeFormDataBody.contentTypeWasGenerated = false;
        }
        else if (nativeFormDataBody.contentTypeWasGenerated) {
            options.setInternalHeader('content-type', contentType);
        }
    }
    _destroyBody(body) {
        if (distribution.nodeStream(body)) {
            const bodyStream = body;
            bodyStream.off('error', this._onBodyError);
            bodyStream.unpipe();
            bodyStream.on('error', core_noop);
            bodyStream.destroy();
        }
        else if (body instanceof ReadableStream) {
            if (!this._cancelActiveWebBodyReader(body) && !body.locked) {
                void body.cancel().catch(core_noop);
            }
        }
        else if (isIterableBody(body)) {
            const iterableBody = body;
            // Signal the iterator to clean up, but don't await it:
            // the for-await loop in _sendBody exits via the options.body sentinel,
            // and awaiting return() would deadlock when next() is pending.
            if (typeof iterableBody.return === 'function') {
                try {
                    const result = iterableBody.return();
                    if (result instanceof Promise) {
                        result.catch(core_noop);
                    }
                }
                catch { }
            }
        }
    }
    _onBodyError = (error) => {
        if (this._flushed) {
            this._beforeError(new UploadError(error, this));
        }
        else {
            this.flush = async () => {
                this.flush = async () => { };
                this._beforeError(new UploadError(error, this));
            };
        }
    };
    async _writeChunksToRequest(buffer, request) {
        const chunkSize = 65_536; // 64 KB
        const isStale = () => this._isRequestStale(request);
        for (const part of chunk(buffer, chunkSize)) {
            if (isStale()) {
                return;
            }
            // eslint-disable-next-line no-await-in-loop
            await new Promise((resolve, reject) => {
                this._writeRequest(part, undefined, error => {
                    if (isStale()) {
                        resolve();
                        return;
                    }
                    if (error) {
                        reject(error);
                    }
                    else {
                        setImmediate(resolve);
                    }
                }, request);
            });
        }
    }
    _prepareCache(cache) {
        if (cacheableStore.has(cache)) {
            return;
        }
        const cacheableRequest = new dist(((requestOptions, handler) => {
            const gotRequest = requestOptions.gotRequest;
            if (gotRequest?._stopReading) {
                throw new AbortError(gotRequest);
            }
            /**
            Wraps the cacheable-request handler to run beforeCache hooks.
            These hooks control caching behavior by:
            - Directly mutating the response object (changes apply to what gets cached)
            - Returning `false` to prevent caching
            - Returning `void`/`undefined` to use default caching behavior

            Hooks use direct mutation - they can modify response.headers, response.statusCode, etc.
            Mutations take effect immediately and determine what gets cached.
            */
            const wrappedHandler = handler
                ? (response) => {
                    const { beforeCacheHooks, gotRequest } = requestOptions;
                    // Early return if no hooks - cache the original response
                    if (!beforeCacheHooks || beforeCacheHooks.length === 0) {
                        handler(response);
                        return;
                    }
                    // The hooks change the caching layer's view of the headers, not the response the
                    // caller receives. The cache policy keeps a reference to whatever `headers` holds
                    // when it is built, so a copy is swapped in and swapped back afterwards. The copy
                    // must own the array values too, or a hook pushing to `set-cookie` would edit the
                    // caller's list. Unlike headers, a status mutation is shared with the caller on
                    // purpose: the live response streams carry it.
                    const callerHeaders = response.headers;
                    response.headers = Object.fromEntries(Object.entries(callerHeaders).map(([name, value]) => [name, Array.isArray(value) ? [...value] : value]));
                    try {
                        try {
                            // Call each beforeCache hook with the response
                            // Hooks can directly mutate the response - mutations take effect immediately
                            for (const hook of beforeCacheHooks) {
                                const result = hook(response);
                                if (result === false) {
                                    // Prevent caching by adding no-cache headers
                                    // Mutate the response directly to add headers
                                    response.headers['cache-control'] = 'no-cache, no-store, must-revalidate';
                                    response.headers.pragma = 'no-cache';
                                    response.headers.expires = '0';
                                    handler(response);
                                    // Don't call remaining hooks - we've decided not to cache
                                    return;
                                }
                                if (distribution.promise(result)) {
                                    // BeforeCache hooks must be synchronous because cacheable-request's handler is synchronous
                                    throw new TypeError('beforeCache hooks must be synchronous. The hook returned a Promise, but this hook must return synchronously. If you need async logic, use beforeRequest hook instead.');
                                }
                                if (result !== undefined) {
                                    // Hooks should return false or undefined only
                                    // Mutations work directly - no need to return the response
                                    throw new TypeError('beforeCache hook must return false or undefined. To modify the response, mutate it directly.');
                                }
                                // Else: void/undefined = continue
                            }
                        }
                        catch (error) {
                            // Convert hook errors to RequestError and propagate
                            // This is consistent with how other hooks handle errors
                            if (gotRequest) {
                                gotRequest._beforeError(error);
                                // Don't call handler when error was propagated successfully
                                return;
                            }
                            // If gotRequest is missing, log the error to aid debugging
                            // We still call the handler to prevent the request from hanging
                            console.error('Got: beforeCache hook error (request context unavailable):', error);
                            // Call handler with response (potentially partially modified)
                            handler(response);
                            return;
                        }
                        // All hooks ran successfully
                        // Cache the response with any mutations applied
                        handler(response);
                    }
                    finally {
                        // The caller's response keeps the server's headers, whatever the hooks or
                        // the cache layer did with the copy.
                        response.headers = callerHeaders;
                    }
                }
                : handler;
            const result = requestOptions._request(requestOptions, wrappedHandler);
            // TODO: remove this when `cacheable-request` supports async request functions.
            if (distribution.promise(result)) {
                // We only need to implement the error handler in order to support HTTP/2 caching.
                // The result will be a promise anyway.
                // @ts-expect-error ignore
                result.once = (event, handler) => {
                    if (event === 'error') {
                        (async () => {
                            try {
                                await result;
                            }
                            catch (error) {
                                handler(error);
                            }
                        })();
                    }
                    else if (event === 'abort' || event === 'destroy') {
                        // The empty catch is needed here in case when
                        // it rejects before it's `await`ed in `_makeRequest`.
                        (async () => {
                            try {
                                const request = (await result);
                                request.once(event, handler);
                            }
                            catch { }
                        })();
                    }
                    else {
                        /* istanbul ignore next: safety check */
                        throw new Error(`Unknown HTTP/2 promise event: ${event}`);
                    }
                    return result;
                };
            }
            return result;
        }), cache);
        cacheableStore.set(cache, cacheableRequest.request());
    }
    async _createCacheableRequest(url, options) {
        return new Promise((resolve, reject) => {
            const hostname = distribution.string(url.hostname) && url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
            Object.assign(options, {
                protocol: url.protocol,
                hostname,
                host: hostname,
                hash: url.hash === '' ? '' : (url.hash ?? null),
                search: url.search === '' ? '' : (url.search ?? null),
                pathname: url.pathname,
                href: url.href,
                path: `${url.pathname || ''}${url.search || ''}`,
                ...(distribution.string(url.port) && url.port.length > 0 && { port: Number(url.port) }),
                // The `&&` form spreads an empty credential as `{0: ''}`, so the absent case stays
                // explicit. A URL such as `http://@example.com` has both parts set to `''`.
                // eslint-disable-next-line unicorn/consistent-conditional-object-spread
                ...(url.username || url.password ? { auth: `${url.username || ''}:${url.password || ''}` } : {}),
            });
            let request;
            // TODO: Fix `cacheable-response`. This is ugly.
            const cacheRequest = cacheableStore.get(options.cache)(options, (response) => {
                void (async () => {
                    response._readableState.autoDestroy = false;
                    if (request) {
                        const fix = () => {
                            // For ResponseLike objects from cache, set complete to true if not already set.
                            // For real HTTP responses, copy from the underlying response.
                            if (response.req) {
                                response.complete = response.req.res.complete;
                            }
                            else if (response.complete === undefined) {
                                // ResponseLike from cache should have complete = true
                                response.complete = true;
                            }
                        };
                        response.prependOnceListener('end', fix);
                        fix();
                        (await request).emit('cacheableResponse', response);
                    }
                    resolve(response);
                })();
            });
            cacheRequest.once('error', reject);
            cacheRequest.once('request', (requestOrPromise) => {
                request = requestOrPromise;
                resolve(request);
            });
        });
    }
    // `timeout.request` is a global budget: one timer covers the whole request, including redirects and the hooks between them.
    // Redirect and hook boundaries call this again so time spent in hooks counts and changes hooks make to `timeout.request` take effect.
    // The budget is read from the options the hook mutated, which is not `this.options` until the hooks are done.
    _checkRequestTimeout(options = this.options) {
        clearTimeout(this._requestTimeout);
        const budget = options.timeout.request;
        if (budget === undefined || this._startedAt === undefined || this._stopReading) {
            return;
        }
        const remaining = budget - (Date.now() - this._startedAt);
        if (remaining <= 0) {
            this._expireRequestTimeout(budget);
            return;
        }
        // Node turns overflowing timer delays into 1 ms, so an unarmable budget means no timeout.
        if (!isArmableTimerDelay(remaining)) {
            return;
        }
        this._requestTimeout = setTimeout(() => {
            // A hook may have changed the budget while the timer was pending, so only an unchanged budget expires here.
            if (this.options.timeout.request === budget) {
                this._expireRequestTimeout(budget);
            }
            else {
                this._checkRequestTimeout();
            }
        }, remaining);
        this._requestTimeout.unref();
    }
    _expireRequestTimeout(budget) {
        const error = new timed_out_TimeoutError(budget, 'request');
        // An in-flight native request reports the error through its own error handler, which tears down the socket and records the timings.
        if (this._request && !this._request.destroyed) {
            this._request.destroy(error);
        }
        else {
            this._beforeError(error);
        }
    }
    async _makeRequest() {
        const { options } = this;
        this._attachAbortListener();
        if (this.redirectUrls.length > 0) {
            this._checkRequestTimeout();
        }
        if (this.destroyed || this._stopReading) {
            return;
        }
        const shouldDeleteGeneratedHeader = (currentHeader, generatedHeader) => currentHeader === generatedHeader || distribution.undefined(currentHeader);
        const syncGeneratedHeader = (name, { currentHeader, explicitHeader, nextHeader, staleGeneratedHeader, }) => {
            if (!distribution.undefined(nextHeader)) {
                options.setInternalHeader(name, nextHeader);
            }
            else if (!distribution.undefined(explicitHeader) && currentHeader === staleGeneratedHeader) {
                options.setInternalHeader(name, explicitHeader);
            }
            else if (shouldDeleteGeneratedHeader(currentHeader, staleGeneratedHeader)) {
                options.deleteInternalHeader(name);
            }
        };
        const getAuthorizationHeader = (username, password, isExplicitlyOmitted) => !isExplicitlyOmitted && (username || password)
            ? `Basic ${stringToBase64(`${username}:${password}`)}`
            : undefined;
        const sanitizeHeaders = () => {
            const currentHeaders = options.getInternalHeaders();
            for (const key in currentHeaders) {
                if (distribution.undefined(currentHeaders[key])) {
                    options.deleteInternalHeader(key);
                }
                else if (distribution.null(currentHeaders[key])) {
                    throw new TypeError(`Use \`undefined\` instead of \`null\` to delete the \`${key}\` header`);
                }
                else if (Array.isArray(currentHeaders[key]) && (key === 'transfer-encoding' || singleValueRequestHeaders.has(key))) {
                    // Node serializes request header arrays as repeated field lines, so keep framing
                    // unambiguous, and duplicate credential and content-length lines are not allowed on
                    // requests. Normalize a single-element array to match the long-supported string path.
                    if (currentHeaders[key].length !== 1) {
                        throw new TypeError(`The \`${key}\` header must be a single value`);
                    }
                    options.setInternalHeader(key, currentHeaders[key][0]);
                }
            }
            return currentHeaders;
        };
        const getCookieHeader = async (cookieJar) => {
            if (!cookieJar) {
                return undefined;
            }
            const cookieString = await cookieJar.getCookieString(options.url.toString());
            return distribution.nonEmptyString(cookieString) ? cookieString : undefined;
        };
        if (options.cookieJar && !options.isHeaderExplicitlySet('cookie')) {
            options.deleteInternalHeader('cookie');
        }
        const headers = sanitizeHeaders();
        const initialHeaders = options.getInternalHeaders();
        const authorizationWasInitiallyExplicit = options.isHeaderExplicitlySet('authorization');
        const explicitAuthorizationHeader = authorizationWasInitiallyExplicit ? initialHeaders.authorization : undefined;
        const explicitCookieHeader = options.isHeaderExplicitlySet('cookie') ? initialHeaders.cookie : undefined;
        const authorizationWasInitiallyOmitted = authorizationWasInitiallyExplicit && distribution.undefined(initialHeaders.authorization);
        const cookieWasInitiallyOmitted = options.isHeaderExplicitlySet('cookie') && distribution.undefined(initialHeaders.cookie);
        if (options.decompress && distribution.undefined(headers['accept-encoding']) && !options.isHeaderExplicitlySet('accept-encoding')) {
            const encodings = supportsBrotli ? ['gzip', 'deflate', 'br'] : ['gzip', 'deflate'];
            if (core_supportsZstd) {
                encodings.push('zstd');
            }
            options.setInternalHeader('accept-encoding', encodings.join(', '));
        }
        const { username, password } = options;
        const cookieJar = options.cookieJar;
        // Preserve an explicit Authorization header over URL-derived Basic auth. This keeps
        // normalized single-element arrays aligned with the long-supported string behavior.
        const generatedAuthorizationHeader = distribution.undefined(explicitAuthorizationHeader)
            ? getAuthorizationHeader(username, password, authorizationWasInitiallyOmitted)
            : undefined;
        let generatedCookieHeader;
        if (!distribution.undefined(generatedAuthorizationHeader)) {
            options.setInternalHeader('authorization', generatedAuthorizationHeader);
        }
        if (!cookieWasInitiallyOmitted) {
            generatedCookieHeader = await getCookieHeader(cookieJar);
            this._checkRequestTimeout();
            if (this._stopReading) {
                return;
            }
            if (!distribution.undefined(generatedCookieHeader)) {
                options.setInternalHeader('cookie', generatedCookieHeader);
            }
        }
        let request;
        const urlBeforeRequestHooks = options.url instanceof URL ? new URL(options.url) : undefined;
        const boundaryBeforeRequestHooks = getUrlPrefixBoundary(options);
        const stateBeforeRequestHooks = urlBeforeRequestHooks ? snapshotCrossOriginState(options) : undefined;
        const crossOriginHookStrippedHeaders = new Set();
        const changedState = await options.trackStateMutations(async (changedState) => {
            for (const hook of options.hooks.beforeRequest) {
                // eslint-disable-next-line no-await-in-loop
                const result = await hook(options, { retryCount: this.retryCount });
                this._checkRequestTimeout();
                if (this._stopReading) {
                    // The request timed out or was aborted while the hook was pending.
                    destroyRequestResult(result);
                    break;
                }
                if (!distribution.undefined(result)) {
                    // @ts-expect-error Skip the type mismatch to support abstract responses
                    request = () => result;
                    break;
                }
            }
            return changedState;
        });
        this._attachAbortListener();
        if (this.destroyed) {
            return;
        }
        let shouldOmitRequestUrlCredentials = false;
        // A hook that replaced the body must refresh the inherited `content-length`, or the
        // declared length belongs to the previous body and the extra bytes stay on the
        // connection. The sibling retry and redirect hooks do the same, and additionally tear
        // down the body they replaced, which this path has no use for: the hook is done with
        // it and the caller still owns it.
        if (changedState.has('body') && !changedState.has('content-length')) {
            this._serializeFormDataBody(options, changedState.has('content-type'));
            this._refreshBodySize(options);
        }
        this._assertMethodCanHaveBody(options, changedState);
        if (urlBeforeRequestHooks
            && options.url instanceof URL
            && hasUrlOrPrefixUrlBoundaryChanged(options, options.url, boundaryBeforeRequestHooks)) {
            assertUrlHasSameOriginAsPrefixUrlIfNeeded(options, options.url);
        }
        if (urlBeforeRequestHooks
            && options.url instanceof URL
            && !isSameOrigin(urlBeforeRequestHooks, options.url)) {
            const hookChangedState = new Set(changedState);
            const currentHeaders = options.getInternalHeaders();
            const changedHeaders = {};
            for (const header of crossOriginStripHeaders) {
                if (hookChangedState.has(header)) {
                    changedHeaders[header] = currentHeaders[header];
                }
                else {
                    options.deleteInternalHeader(header);
                    crossOriginHookStrippedHeaders.add(header);
                }
            }
            const changedOptions = {
                headers: changedHeaders,
                ...(hookChangedState.has('url') && { url: options.url }),
                ...(hookChangedState.has('prefixUrl') && { prefixUrl: options.prefixUrl }),
                ...(hookChangedState.has('username') && { username: options.username }),
                ...(hookChangedState.has('password') && { password: options.password }),
            };
            options.stripSensitiveHeaders(urlBeforeRequestHooks, options.url, changedOptions);
            this._discardBodyWrites = true;
            this._hasWrittenBody = false;
            this._hasWritableBody = false;
            if (!hasBodyOptionChanged(hookChangedState)
                && isBodyUnchanged(options, stateBeforeRequestHooks)) {
                options.clearBody();
                this._bodySize = undefined;
            }
        }
        if (request === undefined) {
            const currentHeaders = options.getInternalHeaders();
            // `headers.authorization = undefined` / `headers.cookie = undefined` is an
            // explicit opt-out. Respect that instead of regenerating values from URL
            // credentials or the cookie jar later in request setup.
            const isHeaderExplicitlyOmitted = (header) => options.isHeaderExplicitlySet(header)
                && (Object.hasOwn(currentHeaders, header) || changedState.has(header))
                && distribution.undefined(currentHeaders[header]);
            const currentAuthorizationHeader = currentHeaders.authorization;
            const currentCookieHeader = currentHeaders.cookie;
            // Authorization follows a small contract:
            // - A concrete Authorization header is sent as-is.
            // - `authorization = undefined` means omit Authorization entirely, including URL auth.
            // - Deleting an Authorization header that started explicit also means omit it.
            // - Otherwise, if the request did not start with explicit Authorization, Got may
            //   generate Basic auth from the current username/password.
            const authorizationWasExplicitlyOmitted = isHeaderExplicitlyOmitted('authorization')
                || (authorizationWasInitiallyExplicit
                    && !crossOriginHookStrippedHeaders.has('authorization')
                    && distribution.undefined(currentAuthorizationHeader));
            const cookieWasExplicitlyOmitted = distribution.undefined(currentCookieHeader)
                && (cookieWasInitiallyOmitted || isHeaderExplicitlyOmitted('cookie'));
            sanitizeHeaders();
            if (!distribution.undefined(currentHeaders['transfer-encoding']) && !distribution.undefined(currentHeaders['content-length'])) {
                options.deleteInternalHeader('content-length');
            }
            if (authorizationWasExplicitlyOmitted) {
                shouldOmitRequestUrlCredentials = true;
                options.deleteInternalHeader('authorization');
                if (changedState.has('authorization') && distribution.undefined(explicitAuthorizationHeader) && !authorizationWasInitiallyOmitted) {
                    delete options.headers.authorization;
                }
            }
            const authorizationHeader = !authorizationWasInitiallyExplicit
                && !authorizationWasInitiallyOmitted
                && !authorizationWasExplicitlyOmitted
                ? getAuthorizationHeader(options.username, options.password, authorizationWasExplicitlyOmitted)
                : undefined;
            const cookieJar = options.cookieJar;
            if (changedState.has('authorization') && !distribution.undefined(currentAuthorizationHeader)) {
                // A beforeRequest hook intentionally set the outgoing Authorization header.
            }
            else {
                const restorableAuthorizationHeader = crossOriginHookStrippedHeaders.has('authorization') || (changedState.has('authorization') && distribution.undefined(currentAuthorizationHeader))
                    ? undefined
                    : explicitAuthorizationHeader;
                syncGeneratedHeader('authorization', {
                    currentHeader: currentAuthorizationHeader,
                    explicitHeader: restorableAuthorizationHeader,
                    nextHeader: authorizationHeader,
                    staleGeneratedHeader: generatedAuthorizationHeader,
                });
            }
            if (cookieWasExplicitlyOmitted) {
                options.deleteInternalHeader('cookie');
                if (changedState.has('cookie') && distribution.undefined(explicitCookieHeader) && !cookieWasInitiallyOmitted) {
                    delete options.headers.cookie;
                }
            }
            else if (changedState.has('cookie')) {
                // A beforeRequest hook intentionally set the outgoing Cookie header.
            }
            else {
                const cookieHeader = !cookieWasInitiallyOmitted && !cookieWasExplicitlyOmitted
                    ? await getCookieHeader(cookieJar)
                    : undefined;
                const restorableCookieHeader = crossOriginHookStrippedHeaders.has('cookie')
                    ? undefined
                    : explicitCookieHeader;
                syncGeneratedHeader('cookie', {
                    currentHeader: currentCookieHeader,
                    explicitHeader: restorableCookieHeader,
                    nextHeader: cookieHeader,
                    staleGeneratedHeader: generatedCookieHeader,
                });
            }
        }
        request ??= options.getRequestFunction();
        const url = shouldOmitRequestUrlCredentials
            ? new URL(stripUrlAuth(options.url))
            : options.url;
        this._requestOptions = options.createNativeRequestOptions();
        if (shouldOmitRequestUrlCredentials) {
            this._requestOptions.auth = undefined;
        }
        // Streaming uploads cannot provide a cache key without consuming the body.
        const useCache = Boolean(options.cache) && (options.body === undefined || typeof options.body === 'string' || ArrayBuffer.isView(options.body));
        if (useCache) {
            Object.assign(this._requestOptions, {
                _request: request,
                cache: options.cache,
                body: options.body,
                beforeCacheHooks: options.hooks.beforeCache,
                gotRequest: this,
            });
            try {
                this._prepareCache(options.cache);
            }
            catch (error) {
                throw new CacheError(normalizeError(error), this);
            }
        }
        // Cache support
        const function_ = useCache ? this._createCacheableRequest : request;
        try {
            // We can't do `await fn(...)`,
            // because stream `error` event can be emitted before `Promise.resolve()`.
            // The request budget starts once the initial setup is done and is shared by every redirect.
            this._startedAt ??= Date.now();
            this._checkRequestTimeout();
            if (this._stopReading) {
                return;
            }
            let requestOrResponse = function_(url, this._requestOptions);
            if (distribution.promise(requestOrResponse)) {
                requestOrResponse = await requestOrResponse;
            }
            if (this._stopReading) {
                // The request timed out or was aborted while the request function was pending.
                destroyRequestResult(requestOrResponse);
                throw new AbortError(this);
            }
            if (is_client_request(requestOrResponse)) {
                this._onRequest(requestOrResponse, useCache);
            }
            else if (this.writableEnded) {
                void this._onResponse(requestOrResponse);
            }
            else {
                this.once('finish', () => {
                    void this._onResponse(requestOrResponse);
                });
                this._sendBody();
            }
        }
        catch (error) {
            if (error instanceof types_CacheError) {
                throw new CacheError(error, this);
            }
            throw error;
        }
    }
    async _error(error) {
        try {
            // Skip calling hooks for HTTP errors when throwHttpErrors is false (Promise API only).
            // See https://github.com/sindresorhus/got/issues/2103
            if (this.options && (!(error instanceof HTTPError) || this.options.throwHttpErrors)) {
                const hooks = this.options.hooks.beforeError;
                if (hooks.length > 0) {
                    for (const hook of hooks) {
                        // eslint-disable-next-line no-await-in-loop
                        error = await hook(error);
                        // Validate hook return value
                        if (!(error instanceof Error)) {
                            const received = error === null ? 'null' : (distribution.string(error) ? 'string' : (typeof error));
                            throw new TypeError(`The \`beforeError\` hook must return an Error instance. Received ${received}.`);
                        }
                    }
                    // Mark this error as processed by hooks so _destroy preserves custom error types.
                    // Only mark non-RequestError errors, since RequestErrors are already preserved
                    // by the instanceof check in _destroy (line 642).
                    if (!(error instanceof RequestError)) {
                        errorsProcessedByHooks.add(error);
                    }
                }
            }
        }
        catch (error_) {
            error = toRequestError(error_, this);
        }
        // A hook can install a body for a retry that will not happen. Nothing dispatched it, and
        // `_destroy` only tears down what was dispatched, so this request still owns it. The
        // undispatched case is `_destroy`'s own, which runs below.
        if (this._dispatchedBody !== undefined && this.options && this.options.body !== this._dispatchedBody.body) {
            this._destroyBody(this.options.body);
        }
        this.destroy(error);
        // Manually emit error for Promise API to ensure it receives it.
        // Node.js streams may not re-emit if an error was already emitted during retry attempts.
        // Only emit for Promise API (_noPipe = true) to avoid double emissions in stream mode.
        // Use process.nextTick to defer emission and allow destroy() to complete first.
        // See https://github.com/sindresorhus/got/issues/1995
        if (this._noPipe) {
            external_node_process_namespaceObject.nextTick(() => {
                this.emit('error', error);
            });
        }
    }
    _writeRequest(chunk, encoding, callback, request = this._request) {
        if (!request || request.destroyed) {
            // When there's no request (e.g., using cached response from beforeRequest hook),
            // we still need to call the callback to allow the stream to finish properly.
            callback();
            return;
        }
        request.write(chunk, encoding, (error) => {
            // The `!destroyed` check is required to prevent `uploadProgress` being emitted after the stream was destroyed.
            // The `this._request === request` check prevents stale write callbacks from a pre-redirect request from incrementing `_uploadedSize` after it's been reset.
            if (!error && !request.destroyed && this._request === request) {
                // For strings, encode them first to measure the actual bytes that will be sent
                const bytes = typeof chunk === 'string' ? external_node_buffer_.Buffer.from(chunk, encoding) : chunk;
                this._uploadedSize += byteLength(bytes);
                const progress = this.uploadProgress;
                if (progress.percent < 1) {
                    this.emit('uploadProgress', progress);
                }
            }
            callback(error);
        });
    }
    /**
    The remote IP address.
    */
    get ip() {
        return this.socket?.remoteAddress;
    }
    /**
    Indicates whether the request has been aborted or not.
    */
    get isAborted() {
        return this._aborted;
    }
    get socket() {
        return this._request?.socket ?? undefined;
    }
    /**
    Progress event for downloading (receiving a response).
    */
    get downloadProgress() {
        return makeProgress(this._downloadedSize, this._responseSize);
    }
    /**
    Progress event for uploading (sending a request).
    */
    get uploadProgress() {
        return makeProgress(this._uploadedSize, this._bodySize);
    }
    /**
    The object contains the following properties:

    - `start` - Time when the request started.
    - `socket` - Time when a socket was assigned to the request.
    - `lookup` - Time when the DNS lookup finished.
    - `connect` - Time when the socket successfully connected.
    - `secureConnect` - Time when the socket securely connected.
    - `upload` - Time when the request finished uploading.
    - `response` - Time when the request fired `response` event.
    - `end` - Time when the response fired `end` event.
    - `error` - Time when the request fired `error` event.
    - `abort` - Time when the request fired `abort` event.
    - `phases`
        - `wait` - `timings.socket - timings.start`
        - `dns` - `timings.lookup - timings.socket`
        - `tcp` - `timings.connect - timings.lookup`
        - `tls` - `timings.secureConnect - timings.connect`
        - `request` - `timings.upload - (timings.secureConnect || timings.connect)`
        - `firstByte` - `timings.response - timings.upload`
        - `download` - `timings.end - timings.response`
        - `total` - `(timings.end || timings.error || timings.abort) - timings.start`

    If something has not been measured yet, it will be `undefined`.

    __Note__: The time is a `number` representing the milliseconds elapsed since the UNIX epoch.
    */
    get timings() {
        return this._request?.timings;
    }
    /**
    Whether the response was retrieved from the cache.
    */
    get isFromCache() {
        return this.response?.isFromCache;
    }
    get reusedSocket() {
        return this._request?.reusedSocket;
    }
    /**
    Whether the stream is read-only. Returns `true` when `body`, `json`, or `form` options are provided.
    */
    get isReadonly() {
        return hasBodyOption(this.options);
    }
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/as-promise/index.js








const compressedEncodings = new Set(['gzip', 'x-gzip', 'deflate', 'br', 'zstd']);
const as_promise_proxiedRequestEvents = [
    'request',
    'redirect',
    'uploadProgress',
    'downloadProgress',
];
function asPromise(firstRequest) {
    let globalRequest;
    let globalResponse;
    const emitter = new external_node_events_.EventEmitter();
    let promiseSettled = false;
    const promise = new Promise((resolve, reject) => {
        const makeRequest = (retryCount, defaultOptions, retrySource) => {
            const request = firstRequest ?? new Request(undefined, undefined, defaultOptions, retrySource);
            request.retryCount = retryCount;
            request._noPipe = true;
            globalRequest = request;
            const setResponse = (response) => {
                globalResponse = response;
                request.response = response;
                response.ok = isResponseOk(response);
            };
            // Settles the promise and emits `response`. The event carries the response the promise settles
            // with, not the response of an attempt that is about to be retried or thrown.
            const resolveWithResponse = (response) => {
                request.destroy();
                promiseSettled = true;
                // The listener runs outside any request error handling, so a throw would otherwise
                // escape as an unhandled error and leave the promise pending. The later `resolve()` is
                // then a no-op.
                try {
                    emitter.emit('response', response);
                }
                catch (error) {
                    reject(normalizeError(error));
                }
                // eslint-disable-next-line unicorn/no-multiple-promise-resolver-calls
                resolve(request.options.resolveBodyOnly ? response.body : response);
            };
            request.once('response', (response) => {
                void (async () => {
                    // Parse body
                    const contentEncoding = (response.headers['content-encoding'] ?? '').toLowerCase();
                    const isCompressed = contentEncoding.split(',').some(encoding => compressedEncodings.has(encoding.trim()));
                    const { options } = request;
                    // Content-Encoding on a bodyless response describes the representation, not transferred bytes.
                    const hasNoBody = options.method === 'HEAD' || response.statusCode === 204 || response.statusCode === 205 || response.statusCode === 304;
                    if (isCompressed && !options.decompress && !hasNoBody) {
                        response.body = response.rawBody;
                    }
                    else {
                        try {
                            response.body = parseBody(response, options.responseType, options.parseJson, options.encoding);
                        }
                        catch (error) {
                            // Preserve the response text when parsing fails.
                            try {
                                response.body = decodeUint8Array(response.rawBody, options.encoding);
                            }
                            catch (error) {
                                request._beforeError(new ParseError(normalizeError(error), response));
                                return;
                            }
                            if (isResponseOk(response)) {
                                request._beforeError(error);
                                return;
                            }
                        }
                    }
                    try {
                        const hooks = options.hooks.afterResponse;
                        for (const hook of hooks) {
                            const previousUrl = options.url ? new URL(options.url) : undefined;
                            const previousBoundary = getUrlPrefixBoundary(options);
                            const previousState = previousUrl ? snapshotCrossOriginState(options) : undefined;
                            const requestOptions = response.request.options;
                            const responseSnapshot = response;
                            // @ts-expect-error TS doesn't notice that RequestPromise is a Promise
                            // eslint-disable-next-line no-await-in-loop
                            response = await requestOptions.trackStateMutations(async (changedState) => hook(responseSnapshot, async (updatedOptions) => {
                                const preserveHooks = updatedOptions.preserveHooks ?? false;
                                if (updatedOptions === requestOptions) {
                                    const hasExplicitBody = hasBodyOptionChanged(changedState);
                                    options.clearUnchangedCookieHeader(previousState, changedState);
                                    const currentUrl = options.url;
                                    if (previousUrl
                                        && currentUrl instanceof URL
                                        && hasUrlOrPrefixUrlBoundaryChanged(options, currentUrl, previousBoundary)) {
                                        assertUrlHasSameOriginAsPrefixUrlIfNeeded(options, currentUrl);
                                    }
                                    if (updatedOptions.url !== undefined
                                        && previousUrl
                                        && !isSameOrigin(previousUrl, currentUrl)) {
                                        options.stripUnchangedCrossOriginState(previousState, changedState, { clearBody: !hasExplicitBody });
                                    }
                                }
                                else {
                                    options.mergeNextRequestOptions(updatedOptions, {
                                        previousUrl,
                                        previousState,
                                        previousBoundary,
                                    });
                                }
                                // RetryError interrupts this loop, so skip all response hooks on the retry by default.
                                // preserveHooks explicitly opts into running the complete hook list again.
                                if (!preserveHooks) {
                                    options.hooks.afterResponse = [];
                                }
                                throw new RetryError(request);
                            }));
                            if (!(distribution.object(response) && distribution.number(response.statusCode) && 'body' in response)) {
                                throw new TypeError('The `afterResponse` hook returned an invalid value');
                            }
                        }
                    }
                    catch (error) {
                        request._beforeError(error);
                        return;
                    }
                    setResponse(response);
                    if (!response.ok) {
                        request._beforeError(new HTTPError(response));
                        return;
                    }
                    resolveWithResponse(response);
                })();
            });
            let handledFinalError = false;
            const onError = (error) => {
                // Route errors emitted directly on the stream (e.g., EPIPE from Node.js)
                // through retry logic first, then handle them here after retries are exhausted.
                // See https://github.com/sindresorhus/got/issues/1995
                if (!request._stopReading) {
                    request._beforeError(error);
                    return;
                }
                // Allow the manual re-emission from Request to land only once.
                if (handledFinalError) {
                    return;
                }
                handledFinalError = true;
                promiseSettled = true;
                if (error instanceof HTTPError && !request.options.throwHttpErrors) {
                    setResponse(error.response);
                    resolveWithResponse(error.response);
                    return;
                }
                reject(error);
            };
            // Use .on() instead of .once() to keep the listener active across retries.
            // When _stopReading is false, we return early and the error gets re-emitted
            // after retry logic completes, so we need this listener to remain active.
            // See https://github.com/sindresorhus/got/issues/1995
            request.on('error', onError);
            let previousBody = request.options?.body;
            request.on('request', () => {
                // Async handlers and beforeRequest hooks can supply the body after this Promise was created.
                previousBody = request.options.body;
            });
            request.once('retry', (newRetryCount, error) => {
                firstRequest = undefined;
                // If promise already settled, don't retry
                // This prevents the race condition in #1489 where a late error
                // (e.g., ECONNRESET after successful response) triggers retry
                // after the promise has already resolved/rejected
                if (promiseSettled) {
                    return;
                }
                const newBody = request.options.body;
                if (previousBody === newBody && isNonReplayableBody(newBody)) {
                    error.message = 'Cannot retry with consumed body stream';
                    onError(error);
                    return;
                }
                // This is needed! We need to reuse `request.options` because they can get modified!
                // For example, by calling `promise.json()`.
                makeRequest(newRetryCount, request.options, request);
            });
            proxyEvents(request, emitter, as_promise_proxiedRequestEvents);
            if (distribution.undefined(firstRequest)) {
                void request.flush();
            }
        };
        makeRequest(0);
    });
    for (const method of ['on', 'once', 'off']) {
        promise[method] = function (event, function_) {
            emitter[method](event, function_);
            return this;
        };
    }
    const shortcut = (promiseToAwait, responseType) => {
        const newPromise = (async () => {
            // Wait until downloading has ended
            const response = await promiseToAwait;
            // Handlers may replace the response or recover one from a request error.
            if (!globalRequest.options.resolveBodyOnly && response?.request instanceof Request && response.rawBody instanceof Uint8Array) {
                globalResponse = response;
            }
            const { options } = globalResponse.request;
            // `parseBody` wraps a decode failure in a `ParseError`, so an unusable encoding is
            // reported with the response attached instead of as a bare `TypeError`.
            return parseBody(globalResponse, responseType, options.parseJson, options.encoding);
        })();
        // eslint-disable-next-line @typescript-eslint/no-floating-promises
        Object.defineProperties(newPromise, Object.getOwnPropertyDescriptors(promiseToAwait));
        return newPromise;
    };
    // Note: These use `function` syntax (not arrows) to access `this` context.
    // When custom handlers wrap the promise to transform errors, these methods
    // are copied to the handler's promise. Using `this` ensures we await the
    // handler's wrapped promise, not the original, so errors propagate correctly.
    promise.json = function () {
        if (globalRequest.options) {
            const { headers } = globalRequest.options;
            if (!globalRequest.writableFinished && !('accept' in headers)) {
                headers.accept = 'application/json';
            }
        }
        return shortcut(this, 'json');
    };
    promise.buffer = function () {
        return shortcut(this, 'buffer');
    };
    promise.text = function () {
        return shortcut(this, 'text');
    };
    return promise;
}

;// CONCATENATED MODULE: ./node_modules/got/dist/source/create.js





const isGotInstance = (value) => distribution.function(value);
const aliases = [
    'get',
    'post',
    'put',
    'patch',
    'head',
    'delete',
    'query',
];
const assertNoUrlInOptionsObject = (options) => {
    if (Object.hasOwn(options, 'url')) {
        throw new TypeError('The `url` option is not supported in options objects. Pass it as the first argument instead.');
    }
};
const create = (defaults) => {
    defaults = {
        options: new Options(undefined, undefined, defaults.options),
        handlers: [...defaults.handlers],
        mutableDefaults: defaults.mutableDefaults,
    };
    // `body`, `json` and `form` are documented as never being merged with the instance
    // defaults, so a payload given to `got.extend()` must not reach the instance's requests.
    // Only the payload is dropped: an instance may still set the body headers it wants.
    defaults.options.body = undefined;
    defaults.options.json = undefined;
    defaults.options.form = undefined;
    Object.defineProperty(defaults, 'mutableDefaults', {
        enumerable: true,
        configurable: false,
        writable: false,
    });
    const makeRequest = (url, options, defaultOptions, isStream) => {
        if (distribution.plainObject(url)) {
            assertNoUrlInOptionsObject(url);
        }
        if (distribution.plainObject(options)) {
            assertNoUrlInOptionsObject(options);
        }
        // `isStream` is intentionally skipped by `merge()`.
        // Make the flag visible to `hooks.init` for both stream call forms.
        let requestInput = url;
        let requestOptions = options;
        if (isStream) {
            if (distribution.plainObject(url)) {
                requestInput = Object.defineProperties({}, Object.getOwnPropertyDescriptors(url));
                Reflect.set(requestInput, 'isStream', true);
            }
            else if (distribution.plainObject(options)) {
                requestOptions = Object.defineProperties({}, Object.getOwnPropertyDescriptors(options));
                Reflect.set(requestOptions, 'isStream', true);
            }
        }
        const request = new Request(requestInput, requestOptions, defaultOptions);
        if (isStream && request.options) {
            request.options.isStream = true;
        }
        // `request.options` stays unset when the input was rejected before the options were built,
        // and the request reports that itself. Otherwise the handler must pass the instance on.
        const optionsBuilt = request.options instanceof Options;
        let promise;
        const boundaryBeforeHandlers = request.options ? getUrlPrefixBoundary(request.options) : undefined;
        const lastHandler = (normalized) => {
            // `Options` keeps its state private, so a spread copy or a plain object would lose
            // everything and then fail later with an unrelated internal error.
            if (optionsBuilt && !(normalized instanceof Options)) {
                throw new TypeError('The `next()` function of a handler must be called with the `options` object it received');
            }
            if (boundaryBeforeHandlers?.url
                && normalized?.url instanceof URL
                && hasUrlOrPrefixUrlBoundaryChanged(normalized, normalized.url, boundaryBeforeHandlers)) {
                assertUrlHasSameOriginAsPrefixUrlIfNeeded(normalized, normalized.url);
            }
            // Note: `options` is `undefined` when `new Options(...)` fails
            request.options = normalized;
            const shouldReturnStream = normalized?.isStream ?? isStream;
            request._noPipe = !shouldReturnStream;
            void request.flush();
            if (shouldReturnStream) {
                return request;
            }
            promise ??= asPromise(request);
            return promise;
        };
        let iteration = 0;
        const iterateHandlers = (newOptions) => {
            const handler = defaults.handlers[iteration++] ?? lastHandler;
            const result = handler(newOptions, iterateHandlers);
            if (distribution.promise(result) && !request.options?.isStream) {
                promise ??= asPromise(request);
                if (result !== promise) {
                    const descriptors = Object.getOwnPropertyDescriptors(promise);
                    for (const key in descriptors) {
                        // `in` is deliberate: it also matches inherited names, and a promise carries `then`
                        // on its prototype, which must not be copied onto the result.
                        // eslint-disable-next-line unicorn/no-computed-property-existence-check
                        if (key in result) {
                            // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
                            delete descriptors[key];
                        }
                    }
                    // eslint-disable-next-line @typescript-eslint/no-floating-promises
                    Object.defineProperties(result, descriptors);
                }
            }
            return result;
        };
        return iterateHandlers(request.options);
    };
    // Got interface
    const got = ((url, options, defaultOptions = defaults.options) => makeRequest(url, options, defaultOptions, false));
    got.extend = (...instancesOrOptions) => {
        const options = new Options(undefined, undefined, defaults.options);
        const handlers = [...defaults.handlers];
        // `instance.extend(…)` must behave like `got.extend(instance, …)`, so the parent's mutability is inherited unless an argument overrides it.
        let { mutableDefaults } = defaults;
        for (const value of instancesOrOptions) {
            if (isGotInstance(value)) {
                options.merge(value.defaults.options);
                handlers.push(...value.defaults.handlers);
                mutableDefaults = value.defaults.mutableDefaults;
            }
            else {
                assertNoUrlInOptionsObject(value);
                options.merge(value);
                if (value.handlers) {
                    // A non-function entry would otherwise be skipped or crash inside the request
                    // without naming the option that caused it.
                    for (const [index, handler] of value.handlers.entries()) {
                        if (!distribution.function(handler)) {
                            throw new TypeError(`Expected \`handlers[${index}]\` to be a function, got \`${typeof handler}\``);
                        }
                    }
                    handlers.push(...value.handlers);
                }
                mutableDefaults = value.mutableDefaults ?? mutableDefaults;
            }
        }
        return create({
            options,
            handlers,
            mutableDefaults,
        });
    };
    // Pagination
    const paginateEach = (async function* (url, options) {
        if (distribution.plainObject(url)) {
            assertNoUrlInOptionsObject(url);
        }
        if (distribution.plainObject(options)) {
            assertNoUrlInOptionsObject(options);
        }
        let normalizedOptions = new Options(url, options, defaults.options);
        let { pagination } = normalizedOptions;
        assert.function(pagination.transform);
        assert.function(pagination.shouldContinue);
        assert.function(pagination.filter);
        assert.function(pagination.paginate);
        assert.number(pagination.countLimit);
        assert.number(pagination.requestLimit);
        assert.number(pagination.backoff);
        const allItems = [];
        let numberOfItems = 0;
        let numberOfRequests = 0;
        while (numberOfRequests < pagination.requestLimit && numberOfItems < pagination.countLimit) {
            if (numberOfRequests !== 0) {
                try {
                    // eslint-disable-next-line no-await-in-loop
                    await (0,promises_namespaceObject.setTimeout)(pagination.backoff, undefined, { signal: normalizedOptions.signal });
                }
                catch (error) {
                    if (!normalizedOptions.signal?.aborted) {
                        throw error;
                    }
                    // Let the next request report cancellation through Got's normal error handling.
                }
            }
            // Pagination callbacks always receive the complete response.
            normalizedOptions.resolveBodyOnly = false;
            // eslint-disable-next-line no-await-in-loop
            const response = (await got(undefined, undefined, normalizedOptions));
            // eslint-disable-next-line no-await-in-loop
            const parsed = await pagination.transform(response);
            if (!distribution.array(parsed)) {
                // The same context the paginate override gets, so the failing page is not anonymous.
                throw new TypeError(`Option 'pagination.transform': Expected values which are \`Array\`. Received values of type \`${typeof parsed}\`.`);
            }
            const currentItems = [];
            for (const item of parsed) {
                if (!pagination.filter({ item, currentItems, allItems })) {
                    continue;
                }
                if (!pagination.shouldContinue({ item, currentItems, allItems })) {
                    return;
                }
                yield item;
                if (pagination.stackAllItems) {
                    allItems.push(item);
                }
                currentItems.push(item);
                if (++numberOfItems >= pagination.countLimit) {
                    return;
                }
            }
            if (++numberOfRequests >= pagination.requestLimit) {
                return;
            }
            const requestOptions = response.request.options;
            const previousUrl = requestOptions.url ? new URL(requestOptions.url) : undefined;
            const previousBoundary = getUrlPrefixBoundary(requestOptions);
            const previousState = previousUrl ? snapshotCrossOriginState(requestOptions) : undefined;
            // The inner `await` applies an async `paginate`, the same way `transform` is handled.
            // eslint-disable-next-line no-await-in-loop, @typescript-eslint/no-loop-func -- Pagination is updated only after this callback finishes.
            const [optionsToMerge, changedState] = await requestOptions.trackStateMutations(async (changedState) => [
                await pagination.paginate({
                    response,
                    currentItems,
                    allItems,
                }),
                changedState,
            ]);
            if (optionsToMerge === false) {
                return;
            }
            // A `paginate` that forgot its return value must be reported at the option, the same
            // way `transform` is, instead of crashing later while reading `url` off it.
            if (!(optionsToMerge instanceof Options) && !distribution.plainObject(optionsToMerge)) {
                throw new TypeError(`Option 'pagination.paginate': Expected \`false\` or a plain options object, got \`${typeof optionsToMerge}\``);
            }
            if (optionsToMerge === requestOptions) {
                normalizedOptions = requestOptions;
                normalizedOptions.clearUnchangedCookieHeader(previousState, changedState);
                const nextUrl = normalizedOptions.url;
                if (previousUrl && nextUrl) {
                    if (hasUrlOrPrefixUrlBoundaryChanged(normalizedOptions, nextUrl, previousBoundary)) {
                        assertUrlHasSameOriginAsPrefixUrlIfNeeded(normalizedOptions, nextUrl);
                    }
                    if (!isSameOrigin(previousUrl, nextUrl)) {
                        normalizedOptions.prefixUrl = '';
                        normalizedOptions.stripUnchangedCrossOriginState(previousState, changedState);
                    }
                }
            }
            else {
                const paginationBoundary = getUrlPrefixBoundary(normalizedOptions);
                const paginationUrl = paginationBoundary.url;
                try {
                    assert.any([distribution.string, distribution.urlInstance, distribution.undefined], optionsToMerge.url);
                }
                catch (error) {
                    if (error instanceof Error) {
                        error.message = `Option 'pagination.paginate.url': ${error.message}`;
                    }
                    throw error;
                }
                const { nextUrl, hasExplicitBody } = normalizedOptions.mergeNextRequestOptions(optionsToMerge, {
                    previousUrl,
                    previousState,
                    previousBoundary: paginationBoundary,
                    baseUrl: previousUrl,
                });
                if (previousUrl
                    && paginationUrl
                    && !isSameOrigin(paginationUrl, previousUrl)) {
                    normalizedOptions.stripSensitiveHeaders(paginationUrl, previousUrl, optionsToMerge);
                    if (!hasExplicitBody) {
                        normalizedOptions.clearBody();
                    }
                }
                if (nextUrl
                    && (normalizedOptions.prefixUrl.toString() !== paginationBoundary.prefixUrl
                        || normalizedOptions.allowAbsoluteUrls !== paginationBoundary.allowAbsoluteUrls)) {
                    assertUrlHasSameOriginAsPrefixUrlIfNeeded(normalizedOptions, nextUrl);
                }
            }
            pagination = normalizedOptions.pagination;
        }
    });
    got.paginate = paginateEach;
    got.paginate.all = (async (url, options) => Array.fromAsync(paginateEach(url, options)));
    // For those who like very descriptive names
    got.paginate.each = paginateEach;
    // Stream API
    got.stream = ((url, options) => makeRequest(url, options, defaults.options, true));
    // Shortcuts
    for (const method of aliases) {
        got[method] = ((url, options) => got(url, { ...options, method }));
        got.stream[method] = ((url, options) => makeRequest(url, { ...options, method }, defaults.options, true));
    }
    if (!defaults.mutableDefaults) {
        Object.freeze(defaults);
        Object.freeze(defaults.handlers);
        defaults.options.freeze();
    }
    Object.defineProperty(got, 'defaults', {
        value: defaults,
        writable: false,
        configurable: false,
        enumerable: true,
    });
    return got;
};
/* harmony default export */ const source_create = (create);

;// CONCATENATED MODULE: ./node_modules/got/dist/source/index.js


const defaults = {
    options: new Options(),
    handlers: [],
    mutableDefaults: false,
};
const got = source_create(defaults);
/* harmony default export */ const source = (got);










;// CONCATENATED MODULE: ./node_modules/p-throttle/index.js
const states = new WeakMap();
const signalThrottleds = new WeakMap(); // AbortSignal -> {throttleds: Set<WeakRef>, listener: Function}

const finalizationRegistry = new FinalizationRegistry(({signalWeakRef, weakReference}) => {
	const signal = signalWeakRef.deref();
	if (!signal) {
		return; // Signal already GC'd
	}

	const registration = signalThrottleds.get(signal);
	if (registration) {
		registration.throttleds.delete(weakReference);
		if (registration.throttleds.size === 0) {
			// Remove the abort listener when no throttleds remain
			signal.removeEventListener('abort', registration.listener);
			signalThrottleds.delete(signal);
		}
	}
});

function pThrottle({limit, interval, strict, signal, onDelay, weight}) {
	if (!Number.isFinite(limit)) {
		throw new TypeError('Expected `limit` to be a finite number');
	}

	if (!Number.isFinite(interval)) {
		throw new TypeError('Expected `interval` to be a finite number');
	}

	if (limit < 0) {
		throw new TypeError('Expected `limit` to be >= 0');
	}

	if (interval < 0) {
		throw new TypeError('Expected `interval` to be >= 0');
	}

	if (weight !== undefined && typeof weight !== 'function') {
		throw new TypeError('Expected `weight` to be a function');
	}

	if (weight && interval === 0) {
		throw new TypeError('The `weight` option cannot be used with `interval` of 0');
	}

	// TODO: Uncomment in next major version (breaking change)
	// The combination of strict mode with interval=0 doesn't enforce the limit correctly
	// (minSpacing becomes 0, allowing unlimited calls in the same millisecond).
	// For now, we allow it to avoid breaking existing code, but it should be rejected in v9.
	// if (strict && interval === 0) {
	// 	throw new TypeError('The `strict` option cannot be used with `interval` of 0');
	// }

	const state = {
		queue: new Map(),
		strictTicks: [],
		// Track windowed algorithm state so it can be reset on abort
		currentTick: 0,
		activeWeight: 0,
	};
	const strictCapacity = Math.max(limit, 1);

	// Helper: insert tick maintaining sorted order by time (for weighted strict mode)
	const insertTickSorted = tickRecord => {
		// Optimization: append if it belongs at the end (common case - O(1))
		if (state.strictTicks.length === 0 || tickRecord.time >= state.strictTicks.at(-1).time) {
			state.strictTicks.push(tickRecord);
		} else {
			// Insert at correct position (rare case - O(n))
			const insertIndex = state.strictTicks.findIndex(tick => tick.time > tickRecord.time);
			state.strictTicks.splice(insertIndex, 0, tickRecord);
		}
	};

	function windowedDelay(requestWeight) {
		const now = Date.now();

		if ((now - state.currentTick) > interval) {
			state.activeWeight = requestWeight;
			state.currentTick = now;
			return 0;
		}

		if (state.activeWeight + requestWeight <= limit) {
			state.activeWeight += requestWeight;
		} else {
			state.currentTick += interval;
			state.activeWeight = requestWeight;
		}

		return state.currentTick - now;
	}

	function weightedDelay(requestWeight, now, ticks) {
		// Check both the requested time and future reservations that would share a window with this call. A smaller call must not steal capacity already reserved for a later, heavier call.
		const findBlockingTick = time => {
			let windowStart = 0;
			let windowWeight = 0;

			for (const [index, tick] of ticks.entries()) {
				if (tick.time >= time + interval) {
					break;
				}

				windowWeight += tick.weight;
				const windowEnd = Math.max(time, tick.time);
				while (windowStart <= index && ticks[windowStart].time <= windowEnd - interval) {
					windowWeight -= ticks[windowStart].weight;
					windowStart++;
				}

				if (windowWeight + requestWeight > limit) {
					return ticks[windowStart];
				}
			}
		};

		let nextExecutionTime = now;
		let blockingTick = findBlockingTick(nextExecutionTime);
		while (blockingTick) {
			nextExecutionTime = blockingTick.time + interval;
			blockingTick = findBlockingTick(nextExecutionTime);
		}

		const tickRecord = {
			time: nextExecutionTime,
			weight: requestWeight,
			isExecuted: false,
		};
		insertTickSorted(tickRecord);
		return {delay: Math.max(0, nextExecutionTime - now), tickRecord};
	}

	function strictDelay(requestWeight) {
		const now = Date.now();

		// Clear the queue if there's a significant delay since the last execution
		if (state.strictTicks.length > 0 && now - state.strictTicks.at(-1).time > interval) {
			state.strictTicks.length = 0;
		}

		// For weighted throttling, use time-based sliding window
		if (weight) {
			// Remove ticks outside the current interval window
			while (state.strictTicks.length > 0 && now - state.strictTicks[0].time >= interval) {
				state.strictTicks.shift();
			}

			return weightedDelay(requestWeight, now, state.strictTicks);
		}

		// For non-weighted throttling, use count-based queue (original algorithm)
		// If the queue is not full (treat limit 0 as capacity 1 for seeding), add the current time and execute immediately
		if (state.strictTicks.length < strictCapacity) {
			state.strictTicks.push({time: now, weight: requestWeight});
			return {delay: 0};
		}

		// Calculate next execution time: must be after oldest + interval,
		// AND must be after the most recent to prevent multiple calls bunching up
		const oldestTime = state.strictTicks[0].time;
		const mostRecentTime = state.strictTicks.at(-1).time;
		const baseTime = oldestTime + interval;
		// Add minimum spacing to prevent bunching (except for interval=0)
		const minSpacing = interval > 0 ? Math.ceil(interval / strictCapacity) : 0;
		const nextExecutionTime = baseTime <= mostRecentTime ? mostRecentTime + minSpacing : baseTime;

		// Shift the queue and add a record for the new execution
		state.strictTicks.shift();
		const tickRecord = {time: nextExecutionTime, weight: requestWeight};
		state.strictTicks.push(tickRecord);

		// Calculate the delay for the current execution
		return {delay: Math.max(0, nextExecutionTime - now), tickRecord};
	}

	const getDelay = strict ? strictDelay : windowedDelay;

	return function_ => {
		const throttled = function (...arguments_) {
			if (!throttled.isEnabled) {
				return (async () => function_.apply(this, arguments_))();
			}

			let timeoutId;
			return new Promise((resolve, reject) => {
				// Calculate weight for this call
				let requestWeight = 1;
				if (weight) {
					try {
						requestWeight = weight(...arguments_);
					} catch (error) {
						reject(error);
						return;
					}

					// Validate weight
					if (!Number.isFinite(requestWeight) || requestWeight < 0) {
						reject(new TypeError('Expected `weight` to be a finite non-negative number'));
						return;
					}

					if (requestWeight > limit) {
						reject(new TypeError(`Expected \`weight\` (${requestWeight}) to be <= \`limit\` (${limit})`));
						return;
					}
				}

				const delayResult = getDelay(requestWeight);
				const delay = strict ? delayResult.delay : delayResult;
				let tickRecord = strict ? delayResult.tickRecord : undefined;

				const execute = () => {
					// Revalidate weighted calls at execution time to account for timer drift
					if (tickRecord) {
						const actualTime = Date.now();

						if (weight) {
							const index = state.strictTicks.indexOf(tickRecord);
							if (index !== -1) {
								state.strictTicks.splice(index, 1);
							}

							const executedTicks = state.strictTicks.filter(tick => tick.isExecuted);
							const updatedDelayResult = weightedDelay(requestWeight, actualTime, executedTicks);
							tickRecord = updatedDelayResult.tickRecord;

							if (updatedDelayResult.delay > 0) {
								state.queue.delete(timeoutId);
								timeoutId = setTimeout(execute, updatedDelayResult.delay);
								state.queue.set(timeoutId, reject);
								return;
							}

							tickRecord.isExecuted = true;
						} else {
							tickRecord.time = actualTime;
						}
					}

					try {
						resolve(function_.apply(this, arguments_));
					} catch (error) {
						reject(error);
					}

					state.queue.delete(timeoutId);
				};

				if (delay > 0) {
					timeoutId = setTimeout(execute, delay);
					state.queue.set(timeoutId, reject);
					try {
						onDelay?.(...arguments_);
					} catch {}
				} else {
					execute();
				}
			});
		};

		signal?.throwIfAborted();

		if (signal) {
			let registration = signalThrottleds.get(signal);
			if (!registration) {
				registration = {
					throttleds: new Set(),
					listener: null,
				};

				registration.listener = () => {
					for (const weakReference of registration.throttleds) {
						const function_ = weakReference.deref();
						if (!function_) {
							continue;
						}

						const functionState = states.get(function_);
						if (!functionState) {
							continue;
						}

						for (const timeout of functionState.queue.keys()) {
							clearTimeout(timeout);
							functionState.queue.get(timeout)(signal.reason);
						}

						functionState.queue.clear();
						functionState.strictTicks.length = 0;
						// Reset windowed state so subsequent calls are not artificially delayed
						functionState.currentTick = 0;
						functionState.activeWeight = 0;
					}

					signalThrottleds.delete(signal);
				};

				signalThrottleds.set(signal, registration);
				signal.addEventListener('abort', registration.listener, {once: true});
			}

			const weakReference = new WeakRef(throttled);
			registration.throttleds.add(weakReference);
			finalizationRegistry.register(throttled, {
				signalWeakRef: new WeakRef(signal),
				weakReference,
			});
		}

		throttled.isEnabled = true;

		Object.defineProperty(throttled, 'queueSize', {
			get() {
				return state.queue.size;
			},
		});

		states.set(throttled, state);

		return throttled;
	};
}

;// CONCATENATED MODULE: ./src/openstack/errors.ts

// Typed failures of the OpenStack layer: data for the caller, which chooses the words (they
// name the action's inputs, which this layer knows nothing of).
/** The message an OpenStack service put in an error body, whatever the service's shape. */
function apiMessage(body) {
    if (typeof body === 'string') {
        const text = body
            .replace(/<[^>]*>/g, ' ')
            .replace(/\s+/g, ' ')
            .trim();
        return text || undefined;
    }
    if (body === null || typeof body !== 'object')
        return undefined;
    const record = body;
    // Glance JSON: {message, code, title}; Keystone/OVH: {error: {message}}; Nova/Cinder: {badRequest: {message}}.
    if (typeof record.message === 'string')
        return record.message
            .replace(/<br \/>/g, ' ')
            .replace(/\s+/g, ' ')
            .trim();
    for (const value of Object.values(record)) {
        if (value && typeof value === 'object' && typeof value.message === 'string') {
            return String(value.message).trim();
        }
    }
    return undefined;
}
class OpenStackError extends Error {
    name = 'OpenStackError';
}
/** A service answered with an error status. `message` says which request and what the body said (secrets removed). */
class errors_ApiError extends OpenStackError {
    name = 'ApiError';
    status;
    /** got retried the request before this answer: an earlier attempt may have acted. */
    retried;
    constructor(message, status, retried) {
        super(message);
        this.status = status;
        this.retried = retried;
    }
}
/** 409: the resource is busy or in a state that refuses the request (Nova's task_state, Glance's "in use"). */
class errors_ConflictError extends errors_ApiError {
    name = 'ConflictError';
}
/** No resource of that kind has this name or ID (in this project). */
class errors_NotFoundError extends OpenStackError {
    name = 'NotFoundError';
    kind;
    key;
    constructor(kind, key) {
        super(`no ${kind} named or with ID "${key}"`);
        this.kind = kind;
        this.key = key;
    }
}
/** Several resources answer to one name: the caller must be given an ID. */
class errors_AmbiguousError extends OpenStackError {
    name = 'AmbiguousError';
    kind;
    key;
    ids;
    constructor(kind, key, ids) {
        super(`${ids.length} ${kind}s are named "${key}" (${ids.join(', ')})`);
        this.kind = kind;
        this.key = key;
        this.ids = ids;
    }
}
/** The token's catalog has no endpoint for this service, region or interface. */
class errors_CatalogError extends OpenStackError {
    name = 'CatalogError';
    problem;
    service;
    region;
    iface;
    /** What the catalog does have: the project's regions, or the region's interfaces. */
    offered;
    constructor(problem, service, region, iface, offered) {
        super(`the catalog has no ${problem === 'service' ? `${service} service` : problem === 'region' ? `${service} endpoint in region ${region}` : `${iface} endpoint of ${service} in ${region}`}`);
        this.problem = problem;
        this.service = service;
        this.region = region;
        this.iface = iface;
        this.offered = offered;
    }
}
/** Keystone refused the credentials (401 to the token request). */
class AuthError extends OpenStackError {
    name = 'AuthError';
    constructor(who, url, options) {
        super(`Keystone refused the credentials of ${who} at ${url}`, options);
    }
}
/** A redirect or a link to a host other than the endpoint's: never followed with credentials. */
class errors_CrossHostError extends OpenStackError {
    name = 'CrossHostError';
}
/** A service answered success in a shape that cannot be used (no token header, no image ID). */
class ProtocolError extends OpenStackError {
    name = 'ProtocolError';
}
/** The HTTP status of a failed request, or undefined when no response came back. */
function errors_statusOf(error) {
    return error instanceof errors_ApiError ? error.status : undefined;
}
/** The network error code (ECONNRESET, ETIMEDOUT, …) of a request that got no response. */
function errors_codeOf(error) {
    return error instanceof RequestError ? error.code : undefined;
}
/** Node's codes for a certificate that no trusted CA signed: a self-signed one, or a private CA's that is not trusted. */
const UNTRUSTED = new Set([
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'CERT_UNTRUSTED',
]);
/** The origin whose certificate no trusted CA signed, when that is why the request failed. */
function untrustedOrigin(error) {
    return error instanceof RequestError && UNTRUSTED.has(error.code) && error.options.url ? new URL(error.options.url).origin : undefined;
}
/** The failure leaves no doubt that the service refused the request before acting on it (a 4xx, but a timeout's 408). */
function errors_refusedBeforeActing(error) {
    const status = errors_statusOf(error);
    return status !== undefined && status < 500 && status !== 408;
}

;// CONCATENATED MODULE: ./src/openstack/client.ts



/** Every string in a decoded body, redacted where it stands: an echoed secret is gone before any message is cut out of it. */
function redactBody(body, redact) {
    if (typeof body === 'string')
        return redact(body);
    if (Array.isArray(body))
        return body.map((item) => redactBody(item, redact));
    if (body && typeof body === 'object')
        return Object.fromEntries(Object.entries(body).map(([key, value]) => [key, redactBody(value, redact)]));
    return body;
}
/** Tokens and passwords go only to the host they were meant for: a redirect or a link elsewhere is refused, never followed. */
function sameOrigin(from, to, what) {
    const expected = new URL(from).origin;
    const target = new URL(to).origin;
    if (target !== expected)
        throw new errors_CrossHostError(`${what} points to ${target}, not to ${expected}: refused, so that no token or password goes to another host`);
}
/** Methods got may repeat on its own: repeating them cannot create anything twice. */
const IDEMPOTENT_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'];
/**
 * The one HTTP client every OpenStack call goes through: JSON, timeouts, retries with backoff
 * and Retry-After (got's), an optional rate ceiling, request counting and debug logs that
 * never include headers or bodies (tokens travel in headers).
 */
function createHttp(options = {}) {
    const { log, onRequest } = options;
    const redact = options.redact ?? ((text) => text);
    const throttle = options.rateLimit
        ? // The window is a little longer than a second: requests leave the client a few ms apart from where the
            // throttle let them go, and a server counting arrivals in any 1-s window must still see no more than the limit.
            pThrottle({ limit: Math.max(1, Math.floor(options.rateLimit)), interval: 1050, strict: true })(() => undefined)
        : undefined;
    const hooks = {
        beforeRequest: [
            async (options) => {
                if (throttle)
                    await throttle();
                const url = options.url;
                onRequest?.(options.method, url);
                options.context.startedAt = Date.now();
                log?.debug(`→ ${options.method} ${url.origin}${url.pathname}${url.search}`);
            },
        ],
        afterResponse: [
            (response) => {
                const started = response.request.options.context.startedAt;
                log?.debug(`← ${response.statusCode} ${response.request.options.method} ${response.url} (${started ? Date.now() - started : '?'} ms)`);
                return response;
            },
        ],
        beforeRedirect: [
            (next, response) => {
                sameOrigin(response.url, next.url, `${response.statusCode} redirect from ${new URL(response.url).origin}`);
            },
        ],
        beforeRetry: [
            (error, retryCount) => {
                log?.debug(`retry #${retryCount} of ${error.options.method} ${String(error.options.url)}: ${error.code ?? redact(error.message)}`);
            },
        ],
        beforeError: [
            (error) => {
                // A refused redirect is the error itself, not the 3xx it answered.
                if (error.cause instanceof errors_CrossHostError)
                    return error.cause;
                const response = error.response;
                if (!response)
                    return error;
                // An answer with an error status becomes a typed error: callers test its status, never got's classes.
                const detail = apiMessage(redactBody(response.body, redact));
                const url = new URL(response.url);
                const message = `${error.options.method} ${url.origin}${url.pathname} answered ${response.statusCode}` + (detail ? `: ${detail}` : '');
                const Type = response.statusCode === 409 ? errors_ConflictError : errors_ApiError;
                return new Type(message, response.statusCode, (error.request?.retryCount ?? 0) > 0);
            },
        ],
    };
    const defaults = {
        headers: { accept: 'application/json', 'user-agent': options.userAgent ?? 'openstack-snapshot-action' },
        responseType: 'json',
        timeout: { connect: 15_000, request: options.requestTimeoutMs ?? 60_000 },
        retry: {
            limit: options.retryLimit ?? 5,
            methods: [...IDEMPOTENT_METHODS],
            statusCodes: [408, 429, 500, 502, 503, 504, 521, 522, 524],
            backoffLimit: 30_000,
            noise: 100,
            maxRetryAfter: 120_000,
        },
        hooks,
        // Keystone, every endpoint of the catalog and the OIDC issuer: all go through this client.
        https: { certificateAuthority: options.tls?.ca, rejectUnauthorized: !options.tls?.insecure },
    };
    return source.extend(defaults);
}
/**
 * Every item of a listing whose pages name the next one: got follows the links. `next` reads
 * the link of a page (each service puts it elsewhere); undefined on the last page.
 */
function linkedPages(http, url, items, next, signal) {
    return http.paginate(url, {
        signal,
        pagination: {
            transform: (response) => items(response.body),
            paginate: ({ response }) => {
                const link = next(response.body);
                if (link)
                    sameOrigin(response.url, link, 'the next page link');
                return link ? { url: link, searchParams: undefined } : false;
            },
            backoff: 0,
            requestLimit: Number.POSITIVE_INFINITY,
            countLimit: Number.POSITIVE_INFINITY,
        },
    });
}

;// CONCATENATED MODULE: ./src/openstack/compute.ts


/** From 2.45 createImage answers `{"image_id"}`; before it, only a Location header names the image. */
const IMAGE_ID_MICROVERSION = '2.45';
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
/** An OpenStack resource ID (Nova and Glance accept the hyphens left out). */
const isUuid = (value) => UUID.test(value);
/**
 * Retries for an action that must not be done twice: only after failures that prove Nova never
 * saw it (connection refused, a name that did not resolve, and 429, which a rate limiter answers first).
 */
const SENT_ONCE = { limit: 4, methods: ['POST'], statusCodes: [429], errorCodes: ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'] };
/** Characters that mean something to Nova's name filter: a regex on MySQL/PostgreSQL, LIKE elsewhere. */
const FILTER_SPECIAL = /[\\^$.|?*+()[\]{}%_]/;
function toServer(body) {
    return {
        id: body.id,
        name: body.name,
        status: body.status,
        taskState: body['OS-EXT-STS:task_state'] ?? null,
        projectId: body.tenant_id,
        // Nova shows "" (not an image reference) for a server booted from a volume.
        volumeBacked: !body.image || (typeof body.image === 'object' && !body.image.id),
        volumeIds: (body['os-extended-volumes:volumes_attached'] ?? []).map((volume) => volume.id),
        imageId: typeof body.image === 'object' && body.image ? body.image.id : undefined,
        flavorId: body.flavor?.id,
        fault: body.fault?.message,
        metadata: body.metadata ?? {},
        tags: body.tags,
        ...(body.created ? { createdAt: new Date(body.created) } : {}),
    };
}
/**
 * The longest run of the name that every backend of Nova's `?name=` filter reads literally: the
 * filter then returns a superset of the exact matches whatever the database, and the exact match
 * is made here.
 */
function literalFragment(name) {
    return name.split(FILTER_SPECIAL).reduce((longest, part) => (part.length > longest.length ? part : longest), '');
}
const toFlavor = (body) => ({ id: body.id, name: body.name, ram: body.ram, disk: body.disk, vcpus: body.vcpus });
/** `networks: "none"` needs 2.37; a server create asks for it itself (an old Nova's fallback to 2.1 would make it a 400). */
const NO_NETWORK_MICROVERSION = '2.37';
/** Event details from 2.84, events for a non-admin from 2.51, and the base version last. */
const ACTION_MICROVERSIONS = ['2.84', '2.51', '2.1'];
/** The microversion a request asks for itself (its got context), instead of the client's. */
const askedFor = (context) => (typeof context.microversion === 'string' ? context.microversion : undefined);
class Compute {
    #http;
    #endpoint;
    /** Learnt from the first 406: an old Nova (OVH still has some at 2.38) gets no microversion. */
    #microversion = IMAGE_ID_MICROVERSION;
    constructor(http, endpoint) {
        this.#endpoint = endpoint;
        this.#http = http.extend({
            hooks: {
                beforeRequest: [
                    (options) => {
                        const version = askedFor(options.context) ?? this.#microversion;
                        if (version)
                            options.headers['openstack-api-version'] = `compute ${version}`;
                        else
                            delete options.headers['openstack-api-version'];
                    },
                ],
                afterResponse: [
                    (response, retryWithMergedOptions) => {
                        // Nova refuses an unknown microversion with 406 before acting: fall back to the base version, once.
                        // A request that asked for its own microversion handles the 406 itself.
                        if (response.statusCode !== 406 || !this.#microversion || askedFor(response.request.options.context))
                            return response;
                        this.#microversion = undefined;
                        return retryWithMergedOptions({});
                    },
                ],
            },
        });
    }
    get microversion() {
        return this.#microversion ?? '2.1';
    }
    async getServer(id, signal) {
        try {
            return toServer((await this.#http(`${this.#endpoint}/servers/${encodeURIComponent(id)}`, { signal })).body.server);
        }
        catch (error) {
            if (errors_statusOf(error) === 404)
                return undefined;
            throw error;
        }
    }
    /** Every server of the project that Nova's `query` matches (a superset: callers check exactly), page after page. */
    async *servers(query = {}, signal) {
        const pages = linkedPages(this.#http, `${this.#endpoint}/servers/detail?${new URLSearchParams({ limit: '1000', ...query })}`, (page) => page.servers, 
        // Nova builds the link from its own idea of its URL: only the marker is taken from it.
        (page) => {
            const next = page.servers_links?.find((link) => link.rel === 'next')?.href;
            return next ? new URL(`${this.#endpoint}/servers/detail${new URL(next).search}`) : undefined;
        }, signal);
        for await (const body of pages)
            yield toServer(body);
    }
    /** The one server whose ID or exact name is `nameOrId`: NotFoundError or AmbiguousError otherwise. */
    async findServer(nameOrId) {
        if (isUuid(nameOrId)) {
            const server = await this.getServer(nameOrId);
            if (server)
                return server;
        }
        const matches = [];
        const fragment = literalFragment(nameOrId);
        for await (const server of this.servers(fragment ? { name: fragment } : {}))
            if (server.name === nameOrId)
                matches.push(server);
        const [only, ...others] = matches;
        if (!only)
            throw new errors_NotFoundError('server', nameOrId);
        if (!others.length)
            return only;
        throw new errors_AmbiguousError('server', nameOrId, matches.map((server) => server.id));
    }
    /**
     * Nova's createImage, sent once (SENT_ONCE). Anything else is left to the caller, which knows
     * how to look for an image an ambiguous failure may have created.
     */
    async createImage(serverId, name, metadata, timeoutMs) {
        const response = await this.#http.post(`${this.#endpoint}/servers/${encodeURIComponent(serverId)}/action`, {
            json: { createImage: { name, metadata } },
            timeout: { request: timeoutMs },
            retry: SENT_ONCE,
        });
        const body = response.body;
        const fromBody = typeof body === 'object' && body ? body.image_id : undefined;
        const fromLocation = response.headers.location?.split('/').pop();
        const imageId = fromBody ?? fromLocation;
        if (!imageId)
            throw new ProtocolError(`Nova accepted the snapshot of ${serverId} but named no image (no image_id, no Location header)`);
        return imageId;
    }
    /**
     * Nova's rebuild of an image-backed server with `imageRef`. Sent once, like createImage: a
     * rebuild whose answer was lost is looked for on the server, never sent again.
     */
    async rebuild(serverId, imageRef) {
        await this.#http.post(`${this.#endpoint}/servers/${encodeURIComponent(serverId)}/action`, {
            json: { rebuild: { imageRef } },
            retry: SENT_ONCE,
        });
    }
    /** os-stop or os-start: Nova answers 202 and acts; sending either again to a server already there is refused with 409, never done twice. */
    async power(serverId, action) {
        await this.#http.post(`${this.#endpoint}/servers/${encodeURIComponent(serverId)}/action`, { json: { [action]: null }, retry: SENT_ONCE });
    }
    /**
     * What Nova recorded of the server's newest createImage (its instance actions): the request,
     * and each event's result (shown to a non-admin from 2.51), with Nova's words for a failure
     * where the policy shows them (event `details` from 2.84, admin-only by default). Undefined when Nova shows none.
     */
    async lastSnapshotAction(serverId) {
        const base = `${this.#endpoint}/servers/${encodeURIComponent(serverId)}/os-instance-actions`;
        for (const microversion of ACTION_MICROVERSIONS) {
            try {
                const context = { microversion };
                const list = (await this.#http(base, { context })).body.instanceActions;
                const newest = list.filter((action) => action.action === 'createImage').sort((a, b) => b.start_time.localeCompare(a.start_time))[0];
                if (!newest)
                    return undefined;
                const detail = (await this.#http(`${base}/${encodeURIComponent(newest.request_id)}`, { context })).body
                    .instanceAction;
                return {
                    requestId: detail.request_id,
                    message: detail.message ?? null,
                    events: (detail.events ?? []).map((event) => ({ event: event.event, result: event.result ?? null, details: event.details ?? null })),
                    microversion,
                };
            }
            catch (error) {
                // Below the microversion Nova refuses it before acting (406): try the next one down.
                if (errors_statusOf(error) !== 406)
                    throw error;
            }
        }
        return undefined;
    }
    /** The root disk of a flavor in GiB (0: the size of the image, as for volume-backed flavors). */
    async flavorDiskGb(flavorId) {
        return (await this.#http(`${this.#endpoint}/flavors/${encodeURIComponent(flavorId)}`)).body.flavor.disk;
    }
    /** The flavor of this ID, else the one of this exact name (NotFoundError, AmbiguousError otherwise). */
    async findFlavor(nameOrId) {
        try {
            return toFlavor((await this.#http(`${this.#endpoint}/flavors/${encodeURIComponent(nameOrId)}`)).body.flavor);
        }
        catch (error) {
            if (errors_statusOf(error) !== 404)
                throw error;
        }
        const flavors = (await this.#http(`${this.#endpoint}/flavors/detail`)).body.flavors.filter((f) => f.name === nameOrId);
        const [only, ...others] = flavors;
        if (!only)
            throw new errors_NotFoundError('flavor', nameOrId);
        if (others.length)
            throw new errors_AmbiguousError('flavor', nameOrId, flavors.map((f) => f.id));
        return toFlavor(only);
    }
    /**
     * Boot a server, sent once (SENT_ONCE): a create whose answer was lost is looked for by its
     * metadata by the caller, never sent again. Returns the new server's ID.
     */
    async createServer(request) {
        const body = {
            server: {
                name: request.name,
                imageRef: request.imageRef,
                flavorRef: request.flavorRef,
                networks: request.networkId ? [{ uuid: request.networkId }] : 'none',
                metadata: request.metadata,
            },
        };
        const response = await this.#http.post(`${this.#endpoint}/servers`, {
            json: body,
            retry: SENT_ONCE,
            context: { microversion: NO_NETWORK_MICROVERSION },
        });
        const id = response.body?.server?.id;
        if (!id)
            throw new ProtocolError('Nova accepted the server but named none (no server.id)');
        return id;
    }
    /** Delete a server: 'missing' when it was already gone. Nova deletes in the background: look until getServer finds none. */
    async deleteServer(id) {
        try {
            await this.#http.delete(`${this.#endpoint}/servers/${encodeURIComponent(id)}`);
            return 'deleted';
        }
        catch (error) {
            if (errors_statusOf(error) === 404)
                return 'missing';
            throw error;
        }
    }
    /**
     * The last lines of the server's console log (os-getConsoleOutput), or the status Nova refused
     * it with (404 or 501: this cloud's driver serves none; 409: not yet).
     */
    async consoleOutput(id, lines = 200, signal) {
        try {
            const response = await this.#http.post(`${this.#endpoint}/servers/${encodeURIComponent(id)}/action`, {
                json: { 'os-getConsoleOutput': { length: lines } },
                signal,
            });
            return { output: typeof response.body?.output === 'string' ? response.body.output : '' };
        }
        catch (error) {
            const status = errors_statusOf(error);
            if (status === 400 || status === 404 || status === 409 || status === 501)
                return { refused: status };
            throw error;
        }
    }
}

;// CONCATENATED MODULE: ./src/openstack/catalog.ts

/** The URL of a service (any of `types`) for a region and interface; CatalogError says what the catalog has instead. */
function findEndpoint(catalog, types, region, iface) {
    const service = types.join(' or ');
    const primary = types[0] ?? service;
    const services = catalog.filter((entry) => types.includes(entry.type));
    if (services.length === 0)
        throw new errors_CatalogError('service', service, region, iface, []);
    const regionOf = (endpoint) => endpoint.region_id ?? endpoint.region ?? '';
    const endpoints = services.flatMap((entry) => entry.endpoints);
    // Region IDs are compared as given first, then case-insensitively (gra11 for GRA11).
    const exact = endpoints.filter((endpoint) => regionOf(endpoint) === region);
    const inRegion = exact.length ? exact : endpoints.filter((endpoint) => regionOf(endpoint).toLowerCase() === region.toLowerCase());
    if (inRegion.length === 0) {
        const regions = [...new Set(catalog.flatMap((entry) => entry.endpoints.map(regionOf)))].filter(Boolean).sort();
        throw new errors_CatalogError('region', primary, region, iface, regions);
    }
    const match = inRegion.find((endpoint) => endpoint.interface === iface);
    if (!match)
        throw new errors_CatalogError('interface', primary, region, iface, [...new Set(inRegion.map((endpoint) => endpoint.interface))]);
    return match.url.replace(/\/+$/, '');
}
/** The regions with an endpoint of a service (any of `types`) on this interface. */
function regionsOffering(catalog, types, iface) {
    const endpoints = catalog.filter((entry) => types.includes(entry.type)).flatMap((entry) => entry.endpoints);
    return [...new Set(endpoints.filter((e) => e.interface === iface).map((e) => e.region_id ?? e.region ?? ''))].filter(Boolean).sort();
}

;// CONCATENATED MODULE: ./src/openstack/login-errors.ts

class LoginError extends OpenStackError {
    name = 'LoginError';
    stage;
    status;
    constructor(stage, message, status, options) {
        super(message, options);
        this.stage = stage;
        this.status = status;
    }
}

;// CONCATENATED MODULE: ./src/openstack/federation.ts



/** The token endpoint: given, or read from the discovery document, on the issuer's own origin. */
async function tokenEndpoint(http, source) {
    if (source.tokenEndpoint)
        return source.tokenEndpoint;
    const discovery = source.discoveryEndpoint;
    const document = (await http.get(discovery)).body;
    if (typeof document.token_endpoint !== 'string')
        throw new ProtocolError(`the discovery document at ${discovery} has no token_endpoint`);
    // The client secret goes there: only to the issuer that published the document.
    sameOrigin(discovery, document.token_endpoint, `the token_endpoint of ${discovery}`);
    return document.token_endpoint;
}
/**
 * The client credentials grant, as keystoneauth sends it: HTTP basic auth, the scope in the form.
 * The basic credentials go to `onSecret` before they are sent: an issuer may echo the header.
 */
async function clientCredentialsToken(http, source, onSecret) {
    const url = await tokenEndpoint(http, source);
    const basic = Buffer.from(`${source.clientId}:${source.clientSecret}`).toString('base64');
    onSecret(basic);
    let body;
    try {
        const response = await http.post(url, {
            form: { grant_type: 'client_credentials', scope: source.scope },
            headers: { authorization: `Basic ${basic}` },
            // The grant creates nothing a retry could duplicate.
            retry: { methods: ['POST'] },
        });
        body = response.body;
    }
    catch (error) {
        const status = errors_statusOf(error);
        // OAuth 2.0 answers a bad client with 401 invalid_client (some issuers with 400).
        if (status === 400 || status === 401) {
            throw new LoginError('issuer', `the OIDC issuer refused client ${source.clientId} at ${url} (${status})`, status, { cause: error });
        }
        throw error;
    }
    const token = body[source.tokenType];
    if (typeof token !== 'string' || !token)
        throw new ProtocolError(`the OIDC issuer at ${url} answered without an ${source.tokenType}`);
    return token;
}
/** Keystone's federation endpoint for an identity provider and protocol. */
const federationUrl = (authUrl, identityProvider, protocol) => `${authUrl.replace(/\/+$/, '')}/OS-FEDERATION/identity_providers/${encodeURIComponent(identityProvider)}/protocols/${encodeURIComponent(protocol)}/auth`;

;// CONCATENATED MODULE: ./src/openstack/identity.ts





/** Who a login speaks for, in messages. */
function describeLogin(credentials) {
    switch (credentials.method) {
        case 'password':
            return `user ${credentials.username} (domain ${credentials.userDomainId ?? credentials.userDomainName})`;
        case 'application-credential':
            return `application credential ${credentials.id}`;
        case 'token':
            return 'a token';
        case 'federated': {
            const subject = credentials.bearer.kind === 'external' ? credentials.bearer.subject : `OIDC client ${credentials.bearer.clientId}`;
            return `${subject} via identity provider ${credentials.identityProvider} (protocol ${credentials.protocol})`;
        }
    }
}
/** The secrets a login holds (tokens it gets are added as they come). */
function secretsOf(credentials) {
    switch (credentials.method) {
        case 'password':
            return [credentials.password];
        case 'application-credential':
            return [credentials.secret];
        case 'token':
            return [credentials.token];
        case 'federated':
            return credentials.bearer.kind === 'oidc-client-credentials' ? [credentials.bearer.clientSecret] : [];
    }
}
/** keystoneauth's rule: renew a token that expires within two minutes. */
const REFRESH_MARGIN_MS = 120_000;
const projectOf = (scope) => scope.projectId
    ? { id: scope.projectId }
    : { name: scope.projectName, domain: scope.projectDomainId ? { id: scope.projectDomainId } : { name: scope.projectDomainName } };
/** A token exchanged for one scoped to the project. */
const rescopeBody = (token, scope) => ({
    auth: { identity: { methods: ['token'], token: { id: token } }, scope: { project: projectOf(scope) } },
});
function passwordBody(credentials) {
    const domain = credentials.userDomainId ? { id: credentials.userDomainId } : { name: credentials.userDomainName };
    return {
        auth: {
            identity: { methods: ['password'], password: { user: { name: credentials.username, domain, password: credentials.password } } },
            scope: { project: projectOf(credentials) },
        },
    };
}
// The credential carries its own scope: Keystone refuses an explicit one.
const applicationCredentialBody = (id, secret) => ({
    auth: { identity: { methods: ['application_credential'], application_credential: { id, secret } } },
});
/** Keystone v3: one token at a time, renewed before it expires or after a 401. */
class Identity {
    #http;
    #credentials;
    /** Each token, and each credential derived for a login (the OIDC client's basic auth), before it is sent or used. */
    #onToken;
    #current;
    #latest;
    /** Logins that succeeded: a token login refused after one has expired. */
    #logins = 0;
    constructor(http, credentials, onToken = () => undefined) {
        this.#http = http;
        this.#credentials = credentials;
        this.#onToken = onToken;
    }
    /** A valid token; concurrent callers share one authentication. */
    async token() {
        const pending = this.#current;
        if (pending) {
            // A login that failed fails its concurrent callers too: they do not try it again.
            const token = await pending;
            if (token.expiresAt.getTime() - Date.now() > token.refreshMarginMs)
                return token;
            // Expired or about to: whoever gets here first starts the next authentication.
            if (this.#current === pending)
                this.#current = undefined;
        }
        this.#current ??= this.#authenticate();
        return this.#current;
    }
    /** Forget `rejected` (a service answered 401 to it), so the next call authenticates again. */
    invalidate(rejected) {
        if (this.#latest === rejected)
            this.#current = undefined;
    }
    async #authenticate() {
        // The token on its way replaces every earlier one: a 401 to an earlier token, arriving while
        // this runs, must not start another authentication (concurrent requests share this one).
        this.#latest = undefined;
        try {
            const { value, body } = await this.#login();
            this.#latest = value;
            this.#logins += 1;
            const expiresAt = new Date(body.expires_at);
            return {
                value,
                expiresAt,
                // A rescoped token expires with the one it came from: asking early would only give the same again.
                // A short-lived token (tests, strict clouds) is renewed at a quarter of its life instead.
                refreshMarginMs: this.#credentials.method === 'token' ? 0 : Math.min(REFRESH_MARGIN_MS, (expiresAt.getTime() - Date.now()) / 4),
                projectId: body.project?.id ?? '',
                catalog: body.catalog ?? [],
            };
        }
        catch (error) {
            this.#current = undefined;
            throw error;
        }
    }
    #login() {
        const credentials = this.#credentials;
        const tokens = `${credentials.authUrl.replace(/\/+$/, '')}/auth/tokens`;
        const refused = (url, error) => new AuthError(describeLogin(credentials), url, { cause: error });
        switch (credentials.method) {
            case 'password':
                return this.#issue(tokens, { json: passwordBody(credentials) }, refused);
            case 'application-credential':
                return this.#issue(tokens, { json: applicationCredentialBody(credentials.id, credentials.secret) }, refused);
            case 'token': {
                const stage = this.#logins > 0 ? 'expired' : 'token';
                return this.#issue(tokens, { json: rescopeBody(credentials.token, credentials) }, (url, error) => new LoginError(stage, `Keystone refused the token at ${url}${stage === 'expired' ? ' when renewing: it has expired (or was revoked)' : ''}`, 401, {
                    cause: error,
                }), 
                // Keystone answers a token it cannot read (unknown, expired, revoked) with 404 "Could not recognize Fernet token".
                [401, 404]);
            }
            case 'federated':
                return this.#federated(credentials, tokens);
        }
    }
    /** Bearer token → unscoped token at the identity provider's URL → token scoped to the project. */
    async #federated(credentials, tokens) {
        const source = credentials.bearer;
        const bearer = source.kind === 'external' ? await source.get() : await clientCredentialsToken(this.#http, source, this.#onToken);
        this.#onToken(bearer);
        const who = describeLogin(credentials);
        const url = federationUrl(credentials.authUrl, credentials.identityProvider, credentials.protocol);
        const unscoped = await this.#issue(url, { headers: { authorization: `Bearer ${bearer}` } }, (at, error) => new LoginError('federation', `Keystone refused the bearer token of ${who} at ${at} (${errors_statusOf(error)})`, errors_statusOf(error), { cause: error }), 
        // Keystone answers an unknown identity provider or protocol with 404, a rejected assertion with 401.
        [401, 403, 404]);
        const project = credentials.projectId ?? `${credentials.projectName} (domain ${credentials.projectDomainId ?? credentials.projectDomainName})`;
        return this.#issue(tokens, { json: rescopeBody(unscoped.value, credentials) }, (at, error) => new LoginError('scope', `Keystone refused to scope the token of ${who} to project ${project} at ${at}`, 401, { cause: error }));
    }
    /** A POST that Keystone answers with a token in X-Subject-Token; a refusal becomes `refused`'s error. */
    async #issue(url, options, refused, refusals = [401]) {
        try {
            const response = await this.#http.post(url, {
                ...options,
                // Asking for a token creates nothing a retry could duplicate.
                retry: { methods: [...IDEMPOTENT_METHODS, 'POST'] },
            });
            const value = response.headers['x-subject-token'];
            if (typeof value !== 'string' || !value)
                throw new ProtocolError(`Keystone at ${url} answered without an X-Subject-Token header`);
            this.#onToken(value);
            return { value, body: response.body.token };
        }
        catch (error) {
            const status = errors_statusOf(error);
            throw status !== undefined && refusals.includes(status) ? refused(url, error) : error;
        }
    }
    /** The URL of a service for a region and interface, from the token's catalog. */
    async endpoint(types, region, iface) {
        return findEndpoint((await this.token()).catalog, types, region, iface);
    }
    /** A client that sends the token with every request and re-authenticates once on a 401. */
    authorized(http) {
        return http.extend({
            hooks: {
                beforeRequest: [
                    async (options) => {
                        options.headers['x-auth-token'] = (await this.token()).value;
                    },
                ],
                afterResponse: [
                    async (response, retryWithMergedOptions) => {
                        if (response.statusCode !== 401 || response.request.options.context.reauthenticated)
                            return response;
                        // A 401 is refused before the service acts, so sending again cannot do anything twice.
                        this.invalidate(String(response.request.options.headers['x-auth-token']));
                        return retryWithMergedOptions({ context: { reauthenticated: true } });
                    },
                ],
            },
        });
    }
}

;// CONCATENATED MODULE: ./src/openstack/image.ts


/** Nova lists a volume-backed snapshot's Cinder snapshots in `block_device_mapping`, a JSON string. */
function snapshotIdsOf(mapping) {
    if (typeof mapping !== 'string' || !mapping)
        return [];
    try {
        const devices = JSON.parse(mapping);
        return Array.isArray(devices) ? devices.flatMap((device) => (device?.snapshot_id ? [device.snapshot_id] : [])) : [];
    }
    catch {
        return [];
    }
}
function toImage(body, properties = []) {
    const text = (value) => (typeof value === 'string' ? value : null);
    const kept = {};
    for (const key of properties)
        if (key in body)
            kept[key] = body[key];
    return {
        id: String(body.id),
        name: text(body.name),
        status: String(body.status),
        createdAt: new Date(String(body.created_at)),
        size: typeof body.size === 'number' ? body.size : null,
        minDisk: typeof body.min_disk === 'number' ? body.min_disk : 0,
        minRam: typeof body.min_ram === 'number' ? body.min_ram : 0,
        protected: body.protected === true,
        owner: text(body.owner),
        imageType: text(body.image_type),
        instanceUuid: text(body.instance_uuid),
        bdmV2: String(body.bdm_v2).toLowerCase() === 'true',
        volumeSnapshotIds: snapshotIdsOf(body.block_device_mapping),
        properties: kept,
    };
}
/** Glance's own page cap (api_limit_max): the fewest pages for a long listing. */
const PAGE_SIZE = 1000;
/**
 * The endpoint without its version: Glance's `next` links are paths from there (`/v2/images?…`),
 * and catalogs list Glance either bare (OVH) or with /v2.
 */
function imageRoot(endpoint) {
    return endpoint.replace(/\/+$/, '').replace(/\/v2(\.\d+)?$/, '');
}
/**
 * Glance's filter for exactly this name, or none when Glance would read the name as an operator
 * (`in:a,b`, `gte:x`): the caller compares names itself anyway.
 */
function image_exactNameFilter(name) {
    return /^(in|eq|neq|gt|gte|lt|lte):/.test(name) ? {} : { name };
}
/** An image's data could not be read or written in full: `stage` says which side, `status` the answer (if any). */
class image_ImageDataError extends OpenStackError {
    name = 'ImageDataError';
    stage;
    status;
    constructor(message, stage, status, options) {
        super(message, options);
        this.stage = stage;
        this.status = status;
    }
}
/** Image data moves for as long as it takes, but a connection silent this long is dead. */
const DATA_IDLE_MS = 120_000;
class ImageService {
    #http;
    root;
    constructor(http, endpoint) {
        this.#http = http;
        this.root = imageRoot(endpoint);
    }
    /** The image with the named `properties`, or undefined once Glance no longer has it. */
    async get(id, properties = [], signal) {
        try {
            return toImage((await this.#http(`${this.root}/v2/images/${encodeURIComponent(id)}`, { signal })).body, properties);
        }
        catch (error) {
            if (errors_statusOf(error) === 404)
                return undefined;
            throw error;
        }
    }
    /**
     * Every image matching Glance's server-side `query` (exact base attributes and custom
     * properties, `created_at=gte:…`, `sort`), page after page, each with the named `properties`.
     */
    list(query, properties = []) {
        const search = new URLSearchParams({ limit: String(PAGE_SIZE), ...query });
        return linkedPages(this.#http, `${this.root}/v2/images?${search}`, (page) => page.images.map((body) => toImage(body, properties)), 
        // `next` is a path from the unversioned root (also under a prefix such as devstack's /image).
        (page) => (page.next ? new URL(`${this.root}${page.next}`) : undefined));
    }
    /** Several images in one request (Glance's `id=in:` filter): those Glance still has, by ID. */
    async some(ids, properties = []) {
        const found = new Map();
        for await (const image of this.list({ id: `in:${ids.join(',')}` }, properties))
            if (ids.includes(image.id))
                found.set(image.id, image);
        return found;
    }
    async listAll(query, properties = []) {
        const images = [];
        for await (const image of this.list(query, properties))
            images.push(image);
        return images;
    }
    /** The image with every attribute and property Glance sends (what a copy of it keeps), or undefined once Glance no longer has it. */
    async getAll(id, signal) {
        try {
            const { body } = await this.#http(`${this.root}/v2/images/${encodeURIComponent(id)}`, { signal });
            return toImage(body, Object.keys(body));
        }
        catch (error) {
            if (errors_statusOf(error) === 404)
                return undefined;
            throw error;
        }
    }
    /**
     * Create an image record (no data yet) with the ID the caller chose: a request whose answer was
     * lost is sent again and, once Glance has the image (409, or an answer lost again), the image is
     * read back instead of a second one being made. `reused`: an earlier attempt made it.
     */
    async createWithId(id, fields, signal) {
        const url = `${this.root}/v2/images`;
        for (let attempt = 0;; attempt++) {
            try {
                const { body } = await this.#http.post(url, { json: { ...fields, id }, signal, retry: { limit: 0 } });
                return { image: toImage(body, Object.keys(body)), reused: attempt > 0 };
            }
            catch (error) {
                if (signal?.aborted)
                    throw error;
                const status = errors_statusOf(error);
                const lost = status === undefined || status >= 500;
                if (status === 409 || (lost && attempt < 4)) {
                    // Made by an earlier attempt (409), or maybe by this one (no answer, or a 5xx after Glance acted).
                    const made = await this.getAll(id, signal);
                    if (made)
                        return { image: made, reused: true };
                    if (status === 409)
                        throw error;
                    await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
                    continue;
                }
                throw error;
            }
        }
    }
    /**
     * The image's data as a stream (`GET /v2/images/{id}/file`), read as fast as the consumer takes
     * it (backpressure). Errors are ImageDataError (stage download).
     */
    download(id, signal) {
        return this.#http.stream(`${this.root}/v2/images/${encodeURIComponent(id)}/file`, {
            headers: { accept: 'application/octet-stream' },
            timeout: { connect: 15_000, response: 60_000, socket: DATA_IDLE_MS, request: undefined },
            retry: { limit: 0 },
            signal,
        });
    }
    /**
     * Where to write the image's data (`PUT /v2/images/{id}/file`): a duplex that takes the bytes as
     * fast as Glance does and whose readable side is Glance's answer.
     */
    upload(id, size, signal) {
        return this.#http.stream.put(`${this.root}/v2/images/${encodeURIComponent(id)}/file`, {
            headers: { 'content-type': 'application/octet-stream', ...(size !== null ? { 'content-length': String(size) } : {}) },
            timeout: { connect: 15_000, response: DATA_IDLE_MS, socket: DATA_IDLE_MS, request: undefined },
            retry: { limit: 0 },
            signal,
        });
    }
    /** The import methods this Glance offers (`GET /v2/info/import`); none when it has no such API. */
    async importInfo() {
        try {
            const { body } = await this.#http(`${this.root}/v2/info/import`);
            const value = body['import-methods']?.value;
            return { methods: Array.isArray(value) ? value.map(String) : [] };
        }
        catch (error) {
            if (errors_statusOf(error) === 404)
                return { methods: [] };
            throw error;
        }
    }
    /**
     * Delete one image: 'missing' when it was already gone. Glance's 403 (protected, or not this
     * user's) and 409 (in use) are ApiError and ConflictError: neither goes away by trying again.
     */
    async delete(id) {
        try {
            await this.#http.delete(`${this.root}/v2/images/${encodeURIComponent(id)}`);
            return 'deleted';
        }
        catch (error) {
            // A 404 to a retry means the attempt whose answer was lost did the deleting.
            if (errors_statusOf(error) === 404)
                return error.retried ? 'deleted' : 'missing';
            throw error;
        }
    }
    /** Set these properties on the image (JSON patch `add`, which replaces a property that is there: RFC 6902, as Glance does). */
    async setProperties(id, properties) {
        const patch = Object.entries(properties).map(([key, value]) => ({ op: 'add', path: `/${key}`, value }));
        await this.#http.patch(`${this.root}/v2/images/${encodeURIComponent(id)}`, {
            body: JSON.stringify(patch),
            headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
        });
    }
}

;// CONCATENATED MODULE: ./src/openstack/secrets.ts
// The values a run knows to be secret, and how to take them out of text from the cloud. Pure:
// nothing here prints or masks anything.
const MASK = '***';
/** Python's html.escape (OpenStack services are Python): with and without quotes. */
const htmlEscape = (value, quote) => {
    const text = value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    return quote ? text.replace(/"/g, '&quot;').replace(/'/g, '&#x27;') : text;
};
const jsonEscape = (value) => JSON.stringify(value).slice(1, -1);
/** json.dumps' default (ensure_ascii): every non-ASCII character as \uXXXX. */
const asciiJsonEscape = (value) => jsonEscape(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
/** The forms a body may quote a value in: as is, JSON-, HTML- or URL-encoded. */
function formsOf(value) {
    return [value, jsonEscape(value), asciiJsonEscape(value), htmlEscape(value, true), htmlEscape(value, false), encodeURIComponent(value)];
}
/**
 * The secrets a run knows (the password or application-credential secret, every token Keystone
 * issued): `redact` replaces each, in every form a body may quote it in, by ***. The runner masks
 * only the exact value, so text from the cloud goes through here before it is cleaned up or shown.
 */
class Secrets {
    #forms = [];
    add(value) {
        if (!value)
            return;
        // Longest first, so a form that contains another is replaced whole.
        this.#forms = [...new Set([...this.#forms, ...formsOf(value)])].sort((a, b) => b.length - a.length);
    }
    redact = (text) => this.#forms.reduce((result, form) => result.replaceAll(form, MASK), text);
}

;// CONCATENATED MODULE: ./src/openstack/volume.ts


/** Catalog types of Cinder v3 (keystoneauth treats volumev3 as an alias of block-storage). */
const VOLUME_SERVICE_TYPES = ['block-storage', 'volumev3'];
const toVolume = (v) => ({
    id: v.id,
    snapshotId: v.snapshot_id ?? null,
    serverIds: (v.attachments ?? []).flatMap((a) => (a.server_id ? [a.server_id] : [])),
    ...(v.status ? { status: v.status } : {}),
    metadata: v.metadata ?? {},
    // Cinder's times have no zone: they are UTC.
    ...(v.created_at ? { createdAt: new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(v.created_at) ? v.created_at : `${v.created_at}Z`) } : {}),
});
const nextLink = (links) => {
    const next = links?.find((link) => link.rel === 'next')?.href;
    return next ? new URL(next) : undefined;
};
class VolumeService {
    #http;
    #endpoint;
    constructor(http, endpoint) {
        this.#http = http;
        this.#endpoint = endpoint;
    }
    /** The IDs of every snapshot of these volumes, page after page. */
    async snapshotIdsOf(volumeIds) {
        const ids = new Set();
        for (const volumeId of volumeIds) {
            const pages = linkedPages(this.#http, `${this.#endpoint}/snapshots?${new URLSearchParams({ volume_id: volumeId, limit: '1000' })}`, (page) => page.snapshots, (page) => nextLink(page.snapshots_links));
            for await (const snapshot of pages)
                ids.add(snapshot.id);
        }
        return ids;
    }
    /** The snapshot, or undefined when Cinder has none of that ID (in this project). */
    async getSnapshot(id) {
        try {
            const body = (await this.#http(`${this.#endpoint}/snapshots/${encodeURIComponent(id)}`)).body.snapshot;
            return { id: body.id, name: body.name, status: body.status, volumeId: body.volume_id, projectId: body['os-extended-snapshot-attributes:project_id'] };
        }
        catch (error) {
            if (errors_statusOf(error) === 404)
                return undefined;
            throw error;
        }
    }
    /** Every volume of the project (Cinder lets no user filter on snapshot_id, so the caller does). */
    async volumes() {
        const volumes = [];
        const pages = linkedPages(this.#http, `${this.#endpoint}/volumes/detail?limit=1000`, (page) => page.volumes, (page) => nextLink(page.volumes_links));
        for await (const v of pages)
            volumes.push(toVolume(v));
        return volumes;
    }
    /** The volume, or undefined once Cinder has none of that ID. */
    async getVolume(id, signal) {
        try {
            return toVolume((await this.#http(`${this.#endpoint}/volumes/${encodeURIComponent(id)}`, { signal })).body.volume);
        }
        catch (error) {
            if (errors_statusOf(error) === 404)
                return undefined;
            throw error;
        }
    }
    /** Add these metadata pairs to the volume (the others are kept). */
    async tagVolume(id, metadata) {
        await this.#http.post(`${this.#endpoint}/volumes/${encodeURIComponent(id)}/metadata`, { json: { metadata } });
    }
    /** Delete a volume; 'missing' when it was already gone. Cinder refuses (400) one that is still attached or busy. */
    async deleteVolume(id) {
        try {
            await this.#http.delete(`${this.#endpoint}/volumes/${encodeURIComponent(id)}`);
            return 'deleted';
        }
        catch (error) {
            if (errors_statusOf(error) === 404)
                return 'missing';
            throw error;
        }
    }
    /** Delete a volume snapshot; 'missing' when it was already gone. */
    async deleteSnapshot(id) {
        try {
            await this.#http.delete(`${this.#endpoint}/snapshots/${encodeURIComponent(id)}`);
            return 'deleted';
        }
        catch (error) {
            if (errors_statusOf(error) === 404)
                return 'missing';
            throw error;
        }
    }
}

;// CONCATENATED MODULE: ./src/openstack/cloud.ts







/** One region of one project: the services, found in the catalog on first use. */
class Cloud {
    identity;
    region;
    #http;
    #iface;
    /** Shared by the Clouds of other regions made from this one (inRegion): one count for the run. */
    #counter;
    #compute;
    #images;
    #volumes;
    constructor(options) {
        this.region = options.region;
        this.#iface = options.iface;
        if ('shared' in options) {
            const { shared } = options;
            this.identity = shared.identity;
            this.#http = shared.http;
            this.#counter = shared.counter;
            return;
        }
        const counter = { requests: 0 };
        this.#counter = counter;
        // Every secret this client holds or is given: a service that echoes one in an error body must not put it in a message.
        const secrets = new Secrets();
        for (const secret of secretsOf(options.credentials))
            secrets.add(secret);
        const base = createHttp({
            rateLimit: options.rateLimit,
            requestTimeoutMs: options.requestTimeoutMs,
            tls: options.tls,
            log: options.log,
            onRequest: () => {
                counter.requests += 1;
            },
            redact: secrets.redact,
        });
        this.identity = new Identity(base, options.credentials, (token) => {
            secrets.add(token);
            options.onToken?.(token);
        });
        this.#http = this.identity.authorized(base);
    }
    /** The same project, login and client in another region (its services found in the same catalog). */
    inRegion(region) {
        return new Cloud({ region, iface: this.#iface, shared: { identity: this.identity, http: this.#http, counter: this.#counter } });
    }
    /** The regions whose catalog entries offer any of `types` on this interface (the image service: ['image']). */
    async regionsOf(types) {
        return regionsOffering((await this.identity.token()).catalog, types, this.#iface);
    }
    /** Requests sent so far, retries included. */
    get requests() {
        return this.#counter.requests;
    }
    async projectId() {
        return (await this.identity.token()).projectId;
    }
    compute() {
        this.#compute ??= this.#endpoint(['compute']).then((url) => new Compute(this.#http, url));
        return this.#compute;
    }
    images() {
        this.#images ??= this.#endpoint(['image']).then((url) => new ImageService(this.#http, url));
        return this.#images;
    }
    volumes() {
        this.#volumes ??= this.#endpoint(VOLUME_SERVICE_TYPES).then((url) => new VolumeService(this.#http, url));
        return this.#volumes;
    }
    #endpoint(types) {
        return this.identity.endpoint(types, this.region, this.#iface);
    }
}

;// CONCATENATED MODULE: ./src/settings/urls.ts
/** URLs from inputs and the environment: shown without their credentials, checked before any request. */
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i;
/** `scheme://user:pass@host…` as it may be shown (`scheme://***@host…`), whether or not it parses. */
function redactUrl(raw) {
    return raw.replace(USERINFO, '$1***@');
}
/** What of a URL's userinfo must be masked: the whole of it, and its password as given and decoded. */
function userinfoSecrets(raw) {
    const userinfo = USERINFO.exec(raw)?.[2];
    if (!userinfo)
        return [];
    const password = userinfo.includes(':') ? userinfo.slice(userinfo.indexOf(':') + 1) : '';
    let decoded = password;
    try {
        decoded = decodeURIComponent(password);
    }
    catch {
        // Not percent-encoded as a URL would be: the raw form is masked.
    }
    return [...new Set([userinfo, password, decoded].filter(Boolean))];
}
/** The URL without its userinfo (Keystone v3 takes credentials in the body, never in the URL). */
function withoutUserinfo(raw) {
    return raw.replace(USERINFO, '$1');
}
/** A host on this machine: plain HTTP to it crosses no network. */
function isLoopback(url) {
    return url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
}
/** The proxy variables Node reads (as the runner does), upper and lower case. */
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];
/** A problem for each proxy variable that is not a URL, naming it and shown without its password. */
function proxyProblems(env) {
    return PROXY_VARIABLES.flatMap((name) => {
        const value = env[name];
        if (!value)
            return [];
        try {
            const url = new URL(value);
            if (url.protocol === 'http:' || url.protocol === 'https:')
                return [];
        }
        catch {
            // Reported below.
        }
        return [`${name}: "${redactUrl(value)}" is not a valid proxy URL; e.g. http://proxy.example:3128 (or http://user:password@proxy.example:3128)`];
    });
}

;// CONCATENATED MODULE: ./src/connect.ts





/** The cloud the settings name, through the runner's proxy if it has one; every token masked. The main and the post step log in so. */
function openCloud(settings) {
    // got has no proxy support of its own: Node 24's reads HTTP(S)_PROXY and NO_PROXY, as the runner does (checked by readSettings).
    if (PROXY_VARIABLES.some((name) => process.env[name]))
        (0,external_node_http_.setGlobalProxyFromEnv)();
    return new Cloud({
        credentials: settings.credentials,
        region: settings.region,
        iface: settings.iface,
        tls: settings.tls,
        rateLimit: settings.rateLimit,
        log: { debug: log_log.debug },
        onToken: lib_core/* setSecret */.Pq,
    });
}

;// CONCATENATED MODULE: ./node_modules/p-map/index.js
function p_map_pMap(iterable, mapper, options) {
	return mapConcurrently(iterable, mapper, options, false);
}

function pMapSettled(iterable, mapper, options) {
	return mapConcurrently(iterable, mapper, options, true);
}

function pMapKeyed(input, mapper, options) {
	return mapKeyed(input, mapper, options, false);
}

function pMapSettledKeyed(input, mapper, options) {
	return mapKeyed(input, mapper, options, true);
}

// Like `Promise.allKeyed` and `Promise.allSettledKeyed`, with a mapper, and for a `Map` too. Each value travels with its key, so a skipped key, which leaves no slot in the result, cannot shift the keys after it.
async function mapKeyed(input, mapper, options, isSettled) {
	const entries = getKeyedEntries(input);

	// After the values have their handlers, like the other argument errors, which `mapConcurrently` checks. It cannot check this one, as it gets the wrapper below as its mapper.
	if (typeof mapper !== 'function') {
		throw new TypeError('Mapper function is required');
	}

	const mappedEntries = await mapConcurrently(entries, async ([key, inputResult]) => {
		try {
			if (inputResult.status === 'rejected') {
				throw inputResult.reason;
			}

			const result = await mapper(inputResult.value, key);

			if (result === pMapSkip || result === pMapStop) {
				return result;
			}

			return [key, isSettled ? {status: 'fulfilled', value: result} : result];
		} catch (error) {
			if (!isSettled) {
				throw error;
			}

			return [key, {status: 'rejected', reason: error}];
		}
	}, options, false);

	if (input instanceof Map) {
		return new Map(mappedEntries);
	}

	// A null prototype, like `Promise.allKeyed`, so a key like `__proto__` or `toString` is an own property like any other.
	return Object.setPrototypeOf(Object.fromEntries(mappedEntries), null);
}

// The engine behind all the functions, except `pMapIterable`. With `isSettled`, an element or a mapper that rejects gives a `{status: 'rejected'}` result instead of an error, like `Promise.allSettled`, so `stopOnError` does not apply.
async function mapConcurrently(
	iterable,
	mapper,
	{
		concurrency = Number.POSITIVE_INFINITY,
		stopOnError = true,
		signal,
	} = {},
	isSettled,
) {
	return new Promise((resolve_, reject_) => {
		validateOptions(iterable, mapper, concurrency);

		const result = [];
		// Stage the errors by index, like `result`, so they are reported in input order.
		const errors = [];
		let skippedCount = 0;
		let isResolved = false;
		let isIterableDone = false;
		const pendingIndexes = new Set();
		let doneIndex = Number.POSITIVE_INFINITY;
		let currentIndex = 0;
		const iterator = getIterator(iterable);

		const signalListener = () => {
			reject(signal.reason);
		};

		const cleanup = () => {
			signal?.removeEventListener('abort', signalListener);
		};

		const resolve = value => {
			resolve_(value);
			cleanup();
		};

		const reject = reason => {
			if (isResolved) {
				return;
			}

			isResolved = true;
			reject_(reason);
			cleanup();

			if (!isIterableDone) {
				closeIterator(iterator);
			}
		};

		if (signal) {
			if (signal.aborted) {
				reject(signal.reason);
				return;
			}

			signal.addEventListener('abort', signalListener, {once: true});
		}

		const pull = createPuller(iterator);

		// Settle only once the source is done, or a mapper stopped, and every earlier pull and mapper has finished. A pull before the `done` or the stop can still produce an element, while pulls after it do not affect the result.
		const settleIfFinished = () => {
			if (isResolved || doneIndex === Number.POSITIVE_INFINITY) {
				return;
			}

			for (const index of pendingIndexes) {
				if (index < doneIndex) {
					return;
				}
			}

			if (!stopOnError) {
				const collectedErrors = [];

				for (let index = 0; index < Math.min(doneIndex, errors.length); index++) {
					if (index in errors) {
						collectedErrors.push(errors[index]);
					}
				}

				if (collectedErrors.length > 0) {
					reject(new AggregateError(collectedErrors)); // eslint-disable-line unicorn/error-message
					return;
				}
			}

			isResolved = true;

			// A stop ended the result before the source did, so close it, like `for await` does on a `break`. Not at the stop itself, as a source that settles its `next()` calls out of call order may still owe an earlier element, and closing could drop it.
			if (!isIterableDone) {
				closeIterator(iterator);
			}

			// `done` is final, like `for await`, so a `done` that lands between two elements ends
			// the result there and everything the source produced past it is dropped. A stop cuts it the same way.
			const lastIndex = Math.min(doneIndex, result.length);

			// Every index below `lastIndex` has a value: an index only goes unassigned when its pull reported `done` or its mapper returned `pMapStop`, and the lowest such index is `doneIndex`. So the array is dense below `lastIndex`, and the fast path can hand it over untouched.
			if (lastIndex === result.length && skippedCount === 0) {
				resolve(result);
				return;
			}

			// Otherwise this drops the skipped results and whatever the `done` or the stop cut off.
			resolve(result.slice(0, lastIndex).filter(value => value !== pMapSkip));
		};

		const next = async () => {
			// After a `done` or a stop, a pull would take an item nobody is going to map, which a one-shot source, like a queue, would lose.
			if (isResolved || currentIndex >= doneIndex) {
				return;
			}

			// Take the index when the pull starts, not when it resolves, so a source that settles
			// its `next()` calls out of call order still gets the right position.
			const index = currentIndex++;
			pendingIndexes.add(index);

			let nextItem;
			try {
				nextItem = await pull();
			} catch (error) {
				pendingIndexes.delete(index);

				if (index < doneIndex) {
					throw error;
				}

				settleIfFinished();
				return;
			}

			if (nextItem.done) {
				pendingIndexes.delete(index);
				doneIndex = Math.min(doneIndex, index);
				isIterableDone = true;
				settleIfFinished();
				return;
			}

			// Intentionally detached
			const runner = (async () => {
				try {
					const element = await nextItem.value;

					if (isResolved || index >= doneIndex) {
						return;
					}

					const value = await mapper(element, index);

					// Ignore an item produced after an earlier pull reported `done` or an earlier mapper returned `pMapStop`.
					if (index >= doneIndex) {
						return;
					}

					// A stop ends the result here, like a `done` from the source, so settling waits only for the earlier elements.
					if (value === pMapStop) {
						doneIndex = index;
						return;
					}

					if (value === pMapSkip) {
						skippedCount++;
					}

					result[index] = isSettled && value !== pMapSkip ? {status: 'fulfilled', value} : value;
				} catch (error) {
					if (index >= doneIndex) {
						return;
					}

					if (isSettled) {
						result[index] = {status: 'rejected', reason: error};
					} else if (stopOnError) {
						reject(error);
						return;
					} else {
						errors[index] = error;
					}
				} finally {
					pendingIndexes.delete(index);
					settleIfFinished();
				}

				// If the iterable throws we can't really continue regardless of `stopOnError` state
				// since an iterable is likely to continue throwing after it throws once.
				// If we continue calling `next()` indefinitely we will likely end up
				// in an infinite loop of failed iteration.
				try {
					await next();
				} catch (error) {
					reject(error);
				}
			})();

			// Link the runner to the returned promise, so the async stack trace of a mapper error reaches the caller. Nothing awaits the runner, so the trace would stop there, but V8 follows a reaction that resolves another promise. The link never settles, so it never resolves the returned promise. It is a new promise for each runner, as a shared one would keep a reaction for every element.
			runner.then(() => new Promise(() => {})).then(resolve_);
		};

		// Create the concurrent runners in a detached (non-awaited)
		// promise. We need this so we can await the `next()` calls
		// to stop creating runners before hitting the concurrency limit
		// if the iterable has already been marked as done or a mapper stopped.
		// NOTE: We *must* do this for async iterators otherwise we'll spin up
		// infinite `next()` calls by default and never start the event loop.
		(async () => {
			for (let index = 0; index < concurrency; index++) {
				try {
					// eslint-disable-next-line no-await-in-loop
					await next();
				} catch (error) {
					reject(error);
					break;
				}

				if (isResolved || currentIndex >= doneIndex) {
					break;
				}
			}
		})();
	});
}

function pMapIterable(
	iterable,
	mapper,
	{
		concurrency = Number.POSITIVE_INFINITY,
		backpressure = concurrency,
		preserveOrder = true,
	} = {},
) {
	validateOptions(iterable, mapper, concurrency);

	if (!isLimit(backpressure, concurrency)) {
		throw new TypeError(`Expected \`backpressure\` to be an integer from \`concurrency\` (${concurrency}) and up or \`Infinity\`, got \`${backpressure}\` (${typeof backpressure})`);
	}

	return {
		[Symbol.asyncIterator]() {
			// `isDone` lives outside the generator so the wrapper below can set it the moment the
			// consumer asks to stop. The generator is suspended on a pending `next()` at that point,
			// so its `finally` would not run until much later and workers finishing in the meantime
			// would keep pulling and mapping input for nobody.
			let isDone = false;

			const generator = (async function * () {
				const iterator = getIterator(iterable);

				// Results are consumed from the front with a moving `headIndex` instead of `shift()`.
				// `shift()` moves every remaining entry, which is O(n) per element and made the whole
				// run O(n²) whenever `backpressure` let the array grow, which is the default.
				let promises = [];
				let headIndex = 0;
				let isIterableDone = false;

				// The lowest index whose pull reported `done`. Without `preserveOrder`, the pulls after it have their slots given back, so their errors are dropped.
				let doneIndex = Number.POSITIVE_INFINITY;

				// An element that is being read, or is waiting for a mapper, does not hold a mapper slot, so the next element can be read while the mappers run. Those elements have their own cap of `concurrency`, so the source never sees more than `concurrency` overlapping `next()` calls, even with `backpressure: Infinity`. `backpressure` caps everything in flight together.
				let readingCount = 0;
				let runningMappersCount = 0;

				// The workers waiting for a mapper slot, in the order they started waiting. A finished mapper hands its slot to the oldest one.
				const mapperWaiters = new Map();
				let mapperWaiterCount = 0;
				let wokenMapperWaiterCount = 0;

				const releaseMapperSlot = () => {
					if (wokenMapperWaiterCount === mapperWaiterCount) {
						runningMappersCount--;
						return;
					}

					mapperWaiters.get(wokenMapperWaiterCount)();
					mapperWaiters.delete(wokenMapperWaiterCount++);
				};

				let index = 0;

				// The lowest index whose mapper returned `pMapStop`, or, with `preserveOrder`, whose pull, element, or mapper threw. The stream ends there, like a `break` or a `throw` in a loop. Once it is set, nothing past it is pulled, and no pending element past it is mapped, while the earlier elements still finish and are yielded first. `isDone` cannot do this, as it would drop the values of the earlier elements too.
				let stopIndex = Number.POSITIVE_INFINITY;

				// Without `preserveOrder`, each spawn still takes a slot in `promises`, so `backpressure` counts the same, but the slots are filled in the order the workers settle rather than the order they were spawned in, so the consumer gets whichever result is ready first. A worker always fills the oldest empty slot, at `fillIndex`. An empty slot is `undefined`, and a filled one holds the result itself rather than a promise, so a result costs a promise only when the consumer has to wait for it, through `wake`.
				let fillIndex = 0;
				let wake;

				// The indexes of the pulls whose worker has not filled a slot yet, without `preserveOrder`.
				const unfilledIndexes = new Set();

				// The consumer waits only when the head is empty, and then the oldest empty slot is the head, so the first fill wakes it.
				const fillSlot = result => {
					promises[fillIndex++] = result;
					wake?.(result);
					wake = undefined;
				};

				const pull = createPuller(iterator);

				function trySpawn() {
					// Do not spawn once the consumer is gone, the source is done, or the stream ends at an earlier element. The pull would be wasted work, and for a one-shot source, like a queue, it takes an item nobody is going to ask for.
					if (isDone || isIterableDone || index > stopIndex || readingCount >= concurrency || promises.length - headIndex >= backpressure) {
						return;
					}

					readingCount++;

					// Take the index when the pull starts, not when it resolves, so a source that
					// settles its `next()` calls out of call order still gets the right position.
					const currentIndex = index++;

					// Errors must be returned as a value instead of rejecting, otherwise a promise that
					// the consumer abandons after an earlier error becomes an unhandled rejection.
					const promise = (async () => {
						try {
							let element;
							try {
								const {done, value} = await pull();

								if (done) {
									isIterableDone = true;
									doneIndex = Math.min(doneIndex, currentIndex);
									return {done: true};
								}

								// Spawn if still below the reading and backpressure limits
								trySpawn();

								element = await value;

								if (runningMappersCount < concurrency) {
									runningMappersCount++;
								} else {
									// `releaseMapperSlot` hands the slot over without decrementing `runningMappersCount`, so it is already counted.
									await new Promise(resolve => {
										mapperWaiters.set(mapperWaiterCount++, resolve);
									});
								}
							} finally {
								readingCount--;
							}

							// Spawn now that this element is no longer waiting for a mapper, so the next one is read while this one is mapped
							trySpawn();

							let returnValue;
							try {
								// The consumer stopped iterating, or the stream ends before this element, while this element was being read or waiting for a mapper, so drop it instead of doing work nobody will consume.
								if (isDone || currentIndex > stopIndex) {
									return {done: false, value: pMapSkip};
								}

								returnValue = await mapper(element, currentIndex);
							} finally {
								releaseMapperSlot();
							}

							if (returnValue === pMapStop) {
								stopIndex = Math.min(stopIndex, currentIndex);
							}

							return {done: false, value: returnValue};
						} catch (error) {
							// With `preserveOrder`, the error is thrown at its own position, after the results before it, so those still finish. Without it, the error is thrown as soon as it settles, so nothing still pending can be yielded anymore.
							// An error from a pull after the end of the source is dropped, as `done` is final, so it must have no effect. `doneIndex` is set before the worker that saw `done` settles, so its slot hand-back runs before the delivery check of any error that sees it here, and the two always agree.
							if (preserveOrder) {
								stopIndex = Math.min(stopIndex, currentIndex);
							} else if (currentIndex < doneIndex) {
								isDone = true;
							}

							return {error};
						}
					})();

					if (preserveOrder) {
						promises.push(promise);
						return;
					}

					promises.push(undefined);

					unfilledIndexes.add(currentIndex);

					// The worker never rejects, as errors are returned as a value.
					// The slot is filled here, a tick after the worker settles, rather than by the worker itself, for the same reason the consumer awaits a filled slot: so the consumer never runs, and pulls, earlier.
					promise.then(result => {
						// The slot was already given back, as the pull came after the end of the source.
						if (!unfilledIndexes.delete(currentIndex)) {
							return;
						}

						if (result.done) {
							// The pulls made after this one came after the end of the source, and a source like a queue may never answer them, so give their slots back now instead of waiting on them.
							for (const unfilledIndex of unfilledIndexes) {
								if (unfilledIndex > currentIndex) {
									unfilledIndexes.delete(unfilledIndex);
									fillSlot({done: true});
								}
							}
						}

						fillSlot(result);
					});
				}

				trySpawn();

				try {
					while (headIndex < promises.length) {
						// Without `preserveOrder`, a filled slot holds the result itself, and it is still awaited. That takes one tick, like awaiting a settled promise, so the consumer, and its `trySpawn()`, never run earlier than with a promise in the slot. Taking a ready result without the tick can make the consumer pull before it sees a stop or the end of the source, and a one-shot source, like a queue, would lose that item.
						// eslint-disable-next-line no-await-in-loop
						const result = await (promises[headIndex] ?? new Promise(resolve => {
							wake = resolve;
						}));
						const {done, value} = result;

						// Release the entry instead of leaving it for a `shift()` to move, and drop the
						// consumed prefix once it is at least half the array. That keeps the backing
						// store proportional to the results still in flight rather than to the total
						// ever spawned, which matters for an endless source, while costing one copy per
						// half of the array, so it stays O(1) per element.
						promises[headIndex] = undefined;
						headIndex++;

						if (headIndex * 2 >= promises.length) {
							promises = promises.slice(headIndex);
							fillIndex -= headIndex;
							headIndex = 0;
						}

						if (Object.hasOwn(result, 'error')) {
							throw result.error;
						}

						if (done) {
							// Without `preserveOrder`, the `done` can arrive while other workers are still running.
							if (preserveOrder) {
								return;
							}

							continue;
						}

						// The stream ends where the stop would have been yielded: after the earlier elements with `preserveOrder`, and after the results that were ready before it without.
						if (value === pMapStop) {
							return;
						}

						// Spawn if just dropped below the backpressure limit and still below the reading limit
						trySpawn();

						// A `pMapSkip` result stays in `promises` and is stepped over here. Splicing it out
						// in the worker instead would make every skip an O(n) scan and move, so a run of
						// skips would be O(n²).
						if (value === pMapSkip) {
							continue;
						}

						yield value;
					}
				} finally {
					// Stop pulling input once the consumer stops iterating, otherwise pending skipped mappers keep spawning work.
					isDone = true;

					if (!isIterableDone) {
						closeIterator(iterator);
					}
				}
			})();

			// Override `return()` and `throw()` on the generator itself instead of wrapping it, so it
			// keeps what it inherits, like `Symbol.asyncDispose` for `await using`, and `next()` stays
			// the native one. Plain functions, not `async`: the generator already returns a promise,
			// and an `async` function would wrap it in two more promises and two more microtask hops.
			const {return: generatorReturn, throw: generatorThrow} = generator;

			generator.return = value => {
				isDone = true;
				return generatorReturn.call(generator, value);
			};

			generator.throw = error => {
				isDone = true;
				return generatorThrow.call(generator, error);
			};

			return generator;
		},
	};
}

const pMapSkip = Symbol('skip');

const pMapStop = Symbol('stop');

// The checks `pMap` and `pMapIterable` share, so both reject the same input the same way.
// `mapConcurrently` runs this inside its promise, so a bad argument rejects rather than throws.
function validateOptions(iterable, mapper, concurrency) {
	// Optional chaining, so a nullish input gets this message rather than Node's internal
	// "null is not iterable".
	if (iterable?.[Symbol.iterator] === undefined && iterable?.[Symbol.asyncIterator] === undefined) {
		throw new TypeError(`Expected \`input\` to be either an \`Iterable\` or \`AsyncIterable\`, got (${typeof iterable})`);
	}

	if (typeof mapper !== 'function') {
		throw new TypeError('Mapper function is required');
	}

	if (!isLimit(concurrency, 1)) {
		throw new TypeError(`Expected \`concurrency\` to be an integer from 1 and up or \`Infinity\`, got \`${concurrency}\` (${typeof concurrency})`);
	}
}

// Whether the value is an integer from `minimum` and up, or `Infinity`, as `concurrency` and `backpressure` must be.
function isLimit(value, minimum) {
	return (Number.isSafeInteger(value) && value >= minimum) || value === Number.POSITIVE_INFINITY;
}

// Read the entries of a `Map`, or else the own enumerable keys, strings and symbols, in the order and the way `Promise.allKeyed` does, all up front. Each value gets a handler right away, also like `Promise.allKeyed`, so a value that rejects before a mapper slot reaches it is not an unhandled rejection.
function getKeyedEntries(input) {
	if (input === null || (typeof input !== 'object' && typeof input !== 'function')) {
		throw new TypeError(`Expected \`input\` to be an object, got (${input === null ? 'null' : typeof input})`);
	}

	const entries = [];

	const addEntry = (key, value) => {
		// Resolve the whole entry, so the engine checks termination after the value settles and before the mapper runs.
		entries.push(Promise.resolve(value).then(
			value => [key, {status: 'fulfilled', value}],
			error => [key, {status: 'rejected', reason: error}],
		));
	};

	if (input instanceof Map) {
		for (const [key, value] of input) {
			addEntry(key, value);
		}
	} else {
		for (const key of Reflect.ownKeys(input)) {
			if (Object.getOwnPropertyDescriptor(input, key)?.enumerable) {
				addEntry(key, input[key]);
			}
		}
	}

	return entries;
}

// Take the async iterator when the input has both, like `for await` does.
function getIterator(iterable) {
	return iterable[Symbol.asyncIterator] === undefined ? iterable[Symbol.iterator]() : iterable[Symbol.asyncIterator]();
}

// Close the source so it can release its resources, like `for await` does.
// Callers must not await this so a source that is blocked in `next()` cannot block them.
async function closeIterator(iterator) {
	try {
		await iterator.return?.();
	} catch {}
}

// Pull the next item, and stop pulling once the source has reported `done`: a source like a queue
// may block in `next()` after it is exhausted, which would hang the caller. `done` is final, like
// `for await`, so anything the source produces after it is dropped.
function createPuller(iterator) {
	let isSourceDone = false;

	// A sync iterable, like an array, answers right away, so `done` can be seen here. An async
	// iterable is seen in the `then` below, as soon as its pull settles.
	const markDone = item => {
		if (item?.done) {
			isSourceDone = true;
		}
	};

	return () => {
		if (isSourceDone) {
			return {done: true};
		}

		const result = iterator.next();
		markDone(result);

		// A sync iterable, like an array, answers right away, so `done` has been read already and
		// the result can go back untouched.
		if (typeof result?.then !== 'function') {
			return result;
		}

		// An async iterable settles later, so `done` is read off the pull once it does. That is a
		// branch of its own, which leaves the caller awaiting the pull itself rather than a promise
		// derived from it, so an async source does not pay an extra microtask per element. The
		// rejection is handled here as well as by the caller, so a pull cannot escape as an
		// unhandled rejection. A thenable that is not a promise is turned into one first, so it is
		// subscribed to once, like `for await` does, while a native promise is returned as is.
		const promise = Promise.resolve(result);
		promise.then(markDone, () => {});

		return promise;
	};
}

;// CONCATENATED MODULE: ./src/lib/duration.ts
// Durations as written in workflow inputs (`keep-within: 30d`, timeouts) and as shown in logs.
class DurationError extends Error {
    name = 'DurationError';
}
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const UNIT_MS = { s: SECOND, m: MINUTE, h: HOUR, d: DAY, w: 7 * DAY };
const HELP = 'use a number followed by s, m, h, d or w, such as 90s, 45m, 2h or 1h30m';
/**
 * Parses `90s`, `45m`, `2h`, `1h30m`, `7d`, `2w`, `1d12h` (case-insensitive; `1h 30m` too, so
 * formatDuration's output reads back) into milliseconds. Units are summed in any order. `m` is
 * minutes, never months.
 */
function parseDuration(text) {
    const input = text.trim();
    const shown = JSON.stringify(input);
    // A bare number could mean seconds to one reader and days to another; make the author say which.
    if (/^\d+$/.test(input)) {
        throw new DurationError(`${shown} has no unit: write ${input}s, ${input}m, ${input}h, ${input}d or ${input}w`);
    }
    if (!/^(?:\d+[smhdw]\s*)+$/i.test(input))
        throw new DurationError(`${shown} is not a duration: ${HELP}`);
    let total = 0;
    for (const [, amount, unit] of input.matchAll(/(\d+)([smhdw])/gi)) {
        total += Number(amount) * (UNIT_MS[String(unit).toLowerCase()] ?? 0);
    }
    if (total === 0)
        throw new DurationError(`${shown} adds up to zero: a duration must be longer than that; ${HELP}`);
    // Beyond this, milliseconds are no longer exact integers.
    if (!Number.isSafeInteger(total))
        throw new DurationError(`${shown} is too long to be a usable duration`);
    return total;
}
/** Short form for logs: `850ms`, `4.2s` below a minute, otherwise whole `d h m s` parts such as `1h 5m 3s`. */
function duration_formatDuration(ms) {
    // A log helper must not throw; show odd values as they are.
    if (!Number.isFinite(ms))
        return String(ms);
    if (ms < 0)
        return `-${duration_formatDuration(-ms)}`;
    if (Math.round(ms) < SECOND)
        return `${Math.round(ms)}ms`;
    // Decide on the rounded value so 59.96 s prints as `1m`, never `60.0s`.
    const tenths = Math.round(ms / 100);
    if (tenths < 600)
        return `${(tenths / 10).toFixed(1)}s`;
    let seconds = Math.round(ms / SECOND);
    const parts = [];
    for (const [unit, size] of [
        ['d', 86_400],
        ['h', 3_600],
        ['m', 60],
        ['s', 1],
    ]) {
        const count = Math.floor(seconds / size);
        seconds -= count * size;
        if (count > 0)
            parts.push(`${count}${unit}`);
    }
    return parts.join(' ');
}
/** A moment as Glance writes one (ISO 8601 to the second, UTC). */
const duration_isoSeconds = (date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

;// CONCATENATED MODULE: ./src/lib/wait.ts

/**
 * How long to wait before the next look at something that is still running: a quarter of a second
 * at first, so a short job is noticed promptly (benchmarked: a 4.4 s snapshot is seen 0.14 s after
 * it is active instead of 0.27 s with half a second), then 9 % of the time already spent, so
 * a long one costs few requests and is still noticed within 10 % of its duration (the last
 * request and the exit come on top of the interval), up to a ceiling.
 */
function nextPollDelay(elapsedMs, maxMs = 15_000) {
    return Math.round(Math.min(maxMs, Math.max(250, elapsedMs * 0.09)));
}
/** How long a prompt wait keeps its short interval: a capture or an upload that ends within it is noticed within PROMPT_MS. */
const PROMPT_SPAN_MS = 120_000;
const PROMPT_MS = 400;
/**
 * For waits whose end someone is waiting on (the capture a deploy waits for, the upload a job's
 * end waits for): every 0.4 s for two minutes, then 9 % of the time spent beyond that, up to 5 s.
 */
function wait_promptPollDelay(elapsedMs) {
    return elapsedMs < PROMPT_SPAN_MS ? PROMPT_MS : Math.round(Math.min(5_000, Math.max(PROMPT_MS, (elapsedMs - PROMPT_SPAN_MS) * 0.09)));
}
/** A look cut short by the deadline: no news, which is not the same as "gone". */
const wait_CUT_SHORT = Symbol('cut short');
/** The one point in time a whole wait (with every request in it) must end by, or the moment `cut` aborts if earlier. */
class wait_Deadline {
    /** What the wait was given (for messages). */
    budgetMs;
    at;
    cut;
    constructor(budgetMs, cut) {
        this.budgetMs = budgetMs;
        this.at = Date.now() + budgetMs;
        this.cut = cut;
    }
    static after(ms, cut) {
        return new wait_Deadline(ms, cut);
    }
    get passed() {
        return Date.now() >= this.at || !!this.cut?.aborted;
    }
    /**
     * A request, its retries included, aborted at the deadline; CUT_SHORT when that is why it
     * failed. The second of grace lets the last look be made even when the deadline has come.
     */
    async look(request) {
        try {
            const timeout = AbortSignal.timeout(Math.max(1_000, this.at - Date.now()));
            return await request(this.cut ? AbortSignal.any([timeout, this.cut]) : timeout);
        }
        catch (error) {
            if (this.passed)
                return wait_CUT_SHORT;
            throw error;
        }
    }
}
/**
 * Poll times shared by several waits: ticks from one origin, spaced by nextPollDelay, so that
 * waits started at different moments look at the same instants (and can share one request).
 */
class wait_PollGrid {
    #origin = Date.now();
    #tick = this.#origin;
    #schedule;
    constructor(schedule = nextPollDelay) {
        this.#schedule = schedule;
    }
    /** Milliseconds from `now` to the next tick after it. */
    delay(now) {
        while (this.#tick <= now)
            this.#tick += this.#schedule(this.#tick - this.#origin);
        return this.#tick - now;
    }
}
/**
 * Call `check` until it reports done or the deadline passes, on its own schedule or a shared grid.
 * The first look is immediate: some jobs (volume-backed snapshots) are finished by the time they are accepted.
 */
async function wait_poll(check, deadline, grid) {
    const start = Date.now();
    let polls = 0;
    let last;
    for (;;) {
        const result = await check();
        polls += 1;
        last = result.value;
        if (result.done)
            return { done: true, value: result.value, polls };
        const now = Date.now();
        if (deadline.passed)
            return { done: false, last, polls };
        // A cut wakes the wait at once.
        await (0,promises_namespaceObject.setTimeout)(Math.min(grid ? grid.delay(now) : nextPollDelay(now - start), deadline.at - now), undefined, { signal: deadline.cut }).catch(() => undefined);
    }
}

;// CONCATENATED MODULE: ./src/modes/outcome.ts



/**
 * Why the step fails, in the mode's own words: what happened and what to do. Thrown on the way,
 * or carried by an Outcome when the mode has something to show all the same.
 */
class outcome_StepError extends Error {
    name = 'StepError';
    /** A snapshot that was requested but did not become active: later steps still get its ID. */
    imageId;
    constructor(message, options) {
        super(message, options);
        this.imageId = options?.imageId;
    }
}
/** A prune that deleted nothing, since what it would delete cannot be right: the step fails for it. */
class outcome_Refusal extends outcome_StepError {
    name = 'Refusal';
    /** Why, as the summary says it beside the prune. */
    reason;
    constructor(reason) {
        super(`Prune refused: ${reason}`);
        this.reason = reason;
    }
}
/** Which inputs to fix when a token, OIDC or federated login fails. */
const LOGIN_ADVICE = {
    token: `check the ${constants_Input.Token} input (or OS_TOKEN): it may have expired or been revoked; and ${constants_Input.ProjectId} / ${constants_Input.ProjectName}: the token's user must have a role there`,
    expired: `a ${constants_Input.Token} login cannot renew its token; for runs longer than the token lives, log in with an application credential (${constants_Input.ApplicationCredentialId}, ${constants_Input.ApplicationCredentialSecret})`,
    issuer: `check ${constants_Input.ClientId} and ${constants_Input.ClientSecret} (or OS_CLIENT_ID, OS_CLIENT_SECRET), and ${constants_Input.DiscoveryEndpoint} (the issuer)`,
    federation: `check ${constants_Input.IdentityProvider} and ${constants_Input.Protocol} (Keystone's names for them), and that the token's audience (${constants_Input.OidcAudience} for github-oidc) and claims are what the identity provider's mapping expects`,
    scope: `the identity provider's mapping gives no role on that project: check ${constants_Input.ProjectId} / ${constants_Input.ProjectName} and ${constants_Input.ProjectDomainName} / ${constants_Input.ProjectDomainId}, or ask the cloud's operator to map this identity to the project`,
};
/**
 * The words for a failure: the OpenStack layer's typed errors say what the cloud answered, and
 * here it is said which input to change. Anything else is shown as it is.
 */
function outcome_explain(error, where) {
    if (error instanceof errors_NotFoundError && error.kind === 'server') {
        return `No instance named or with ID "${error.key}" in region ${where.region}: check the ${constants_Input.Instance} input and the region (instance names are matched exactly)`;
    }
    if (error instanceof errors_AmbiguousError && error.kind === 'server') {
        return `${error.ids.length} instances are named "${error.key}" in region ${where.region} (${error.ids.join(', ')}): set the ${constants_Input.Instance} input to the ID of the one to snapshot`;
    }
    if (error instanceof errors_CatalogError) {
        if (error.problem === 'service')
            return `The catalog has no ${error.service} service: this cloud or this project does not offer it`;
        if (error.problem === 'region') {
            return `Region "${error.region}" is not in the catalog for ${error.service}: this project's regions are ${error.offered.join(', ') || '(none)'}; set the ${constants_Input.Region} input (or OS_REGION_NAME) to one of them`;
        }
        return `The ${error.service} service of region ${error.region} has no ${error.iface} endpoint (it has: ${error.offered.join(', ')}); set the ${constants_Input.Interface} input`;
    }
    const untrusted = untrustedOrigin(error);
    if (untrusted) {
        return `The TLS certificate of ${untrusted} is not signed by a CA this run trusts (${errors_codeOf(error)}): give the cloud's CA certificates (PEM) in the ${constants_Input.Cacert} input (or OS_CACERT, or cacert in clouds.yaml)`;
    }
    if (error instanceof LoginError)
        return `${error.message}: ${LOGIN_ADVICE[error.stage]}`;
    if (error instanceof AuthError)
        return `${error.message}: check the password or secret, the domain and the project`;
    return error instanceof Error ? error.message : String(error);
}
/** Any error as the step's failure: one in the mode's words as it is, any other in explain()'s. */
function outcome_asFailure(error, where) {
    return error instanceof outcome_StepError ? error : new outcome_StepError(outcome_explain(error, where), { cause: error });
}

;// CONCATENATED MODULE: ./src/lib/batch.ts
/** How long a look waits for others to share its request: the waits of one poll grid wake within a few ms. */
const GATHER_MS = 10;
/**
 * Looks asked for at about the same moment, answered by one request for all of their keys
 * (`fetch` returns what it found; a key it leaves out resolves to undefined).
 */
class batch_Batched {
    #fetch;
    #pending = new Map();
    #timer;
    constructor(fetch) {
        this.#fetch = fetch;
    }
    get(key) {
        return new Promise((resolve, reject) => {
            this.#pending.set(key, [...(this.#pending.get(key) ?? []), { resolve, reject }]);
            this.#timer ??= setTimeout(() => void this.#flush(), GATHER_MS);
        });
    }
    async #flush() {
        const batch = this.#pending;
        this.#pending = new Map();
        this.#timer = undefined;
        try {
            const found = await this.#fetch([...batch.keys()]);
            for (const [key, waiters] of batch)
                for (const waiter of waiters)
                    waiter.resolve(found.get(key));
        }
        catch (error) {
            for (const waiters of batch.values())
                for (const waiter of waiters)
                    waiter.reject(error);
        }
    }
}

;// CONCATENATED MODULE: ./src/modes/create/looks.ts


/**
 * The one property a look at a new snapshot reads besides its status: Nova quiesces a running
 * guest whose image says it has the QEMU guest agent (create's consistency output).
 */
const looks_GUEST_AGENT = 'hw_qemu_guest_agent';
/**
 * The looks at new images of a fleet: the waits poll on one grid, and the looks asked for at
 * about the same moment go to Glance as one listing (`id=in:…`) instead of one GET each.
 */
class looks_ImageLooks {
    grid;
    #batch;
    constructor(images, grid = new wait_PollGrid()) {
        this.grid = grid;
        this.#batch = new batch_Batched((ids) => images.some(ids, [looks_GUEST_AGENT]));
    }
    /** The image as Glance shows it now, or undefined once it is gone. */
    look(id) {
        return this.#batch.get(id);
    }
}

;// CONCATENATED MODULE: ./src/modes/create/active.ts






/** Glance statuses from which an image never becomes active. */
const active_DEAD = new Set(['killed', 'deleted', 'pending_delete', 'deactivated']);
/**
 * Poll Glance until the image is active (the image), or throw a failure that names the image and
 * says what became of it: dead or gone at once, or still on its way at the deadline, with how to check it.
 */
async function active_untilActive(images, compute, server, imageId, deadline, looks) {
    const started = Date.now();
    let lastStatus = '';
    let last;
    const outcome = await wait_poll(async () => {
        // Glance's listing leaves killed images out: one it misses is looked at on its own.
        const look = await deadline.look(async (signal) => looks ? ((await looks.look(imageId)) ?? images.get(imageId, [looks_GUEST_AGENT], signal)) : images.get(imageId, [looks_GUEST_AGENT], signal));
        if (look === wait_CUT_SHORT)
            return { done: false, value: last };
        last = look;
        const status = look?.status ?? 'gone';
        if (status !== lastStatus) {
            log_log.info(log_t `[${duration_formatDuration(Date.now() - started)}] snapshot ${imageId}: ${status}`);
            lastStatus = status;
        }
        return { done: !look || look.status === 'active' || active_DEAD.has(look.status), value: look };
    }, deadline, looks?.grid);
    const image = outcome.done ? outcome.value : outcome.last;
    if (outcome.done && image?.status === 'active')
        return { image, polls: outcome.polls };
    if (outcome.done) {
        throw new outcome_StepError(image
            ? `The snapshot failed: snapshot ${imageId} is ${image.status}. Nothing will make it active; delete it (mode: delete, ${constants_Input.SnapshotId}: ${imageId}) and try again`
            : `The snapshot failed: snapshot ${imageId} disappeared while it was being made (Nova deletes the image when the snapshot fails on the compute host; see the instance's fault with openstack server show ${server.id})`, { imageId });
    }
    const now = await compute.getServer(server.id).catch(() => undefined);
    throw new outcome_StepError(`Timed out (timeout ${duration_formatDuration(deadline.budgetMs)}) waiting for snapshot ${imageId} to become active, ${duration_formatDuration(Date.now() - started)} after the snapshot was requested: it is still ${image?.status ?? (lastStatus || 'not seen (Glance did not answer in time)')}` +
        `${now ? `, and instance ${server.name} has task_state ${now.taskState ?? 'none'}` : ''}. ` +
        `The snapshot goes on in the cloud. Check it with: openstack image show ${imageId} -c status; ` +
        `or run this action again with a longer timeout. To give it up: mode delete with ${constants_Input.SnapshotId} ${imageId}`, { imageId });
}

;// CONCATENATED MODULE: ./src/modes/cancel.ts



/** The runner cancels a step with SIGINT, sends SIGTERM 7.5 s later and SIGKILL 2.5 s after that. */
const KILLED_AFTER_MS = { SIGINT: 10_000, SIGTERM: 2_500 };
/** Restarts are given up this long before SIGKILL, so the outcome can still be reported. */
const REPORT_MS = 1_000;
/** The last moment to name what is left undone and exit, before SIGKILL. */
const LAST_CHANCE_MS = 400;
/** What the cancel cut short or kept from being done. */
class cancel_Cancelled extends (/* unused pure expression or super */ null && (StepError)) {
    name = 'Cancelled';
}
/**
 * The job being cancelled, for the whole run: set by the first SIGINT or SIGTERM. From then on
 * nothing new is stopped or snapshotted, and the run only starts again the servers it stopped
 * (its duties), within what the runner leaves it before SIGKILL.
 */
class cancel_Cancellation {
    #controller = new AbortController();
    signal = this.#controller.signal;
    /** Set by the first signal: which one, and when the runner will kill the process. */
    #by;
    /** What the run must still do, with what to say if it cannot. */
    #duties = new Set();
    get cancelled() {
        return this.signal.aborted;
    }
    /** The first signal cancels; a later one only says that the run is still ending. */
    cancel(name) {
        const starting = this.#duties.size ? t `; starting the ${this.#duties.size} instance(s) this run stopped before it ends` : '';
        if (this.#by) {
            log.warning(t `${name}: the job is already cancelled${starting}`);
            return;
        }
        this.#by = { name, killAt: Date.now() + (KILLED_AFTER_MS[name] ?? KILLED_AFTER_MS.SIGTERM) };
        log.warning(t `${name}: the job is cancelled: nothing more is stopped or snapshotted${starting}`);
        this.#controller.abort();
    }
    /** The failure of what the cancel cut short, or kept from being done (`what`: "before …", "while …"). */
    error(what) {
        return new cancel_Cancelled(`The job was cancelled (${this.#by?.name ?? 'cancelled'}) ${what}`);
    }
    /** Nothing new is begun once the job is cancelled: `what` is what would have been done. */
    check(what) {
        if (this.cancelled)
            throw this.error(`before ${what}`);
    }
    /** After a cancel: what is left to restart servers in, until shortly before SIGKILL. */
    grace() {
        return new Deadline(Math.max(0, (this.#by?.killAt ?? Date.now()) - REPORT_MS - Date.now()));
    }
    /** A duty of the run (a server it stopped): `unmet` is said if the process has to end before `done` is called. */
    owe(unmet) {
        this.#duties.add(unmet);
        return () => this.#duties.delete(unmet);
    }
    /** Just before SIGKILL: every duty left is named, and the step fails (the runner would kill it anyway). */
    lastChance() {
        for (const unmet of this.#duties)
            log.warning(unmet);
        log.fail(t `The job was cancelled (${this.#by?.name ?? ''}) and the runner ends it now`);
        process.exit(1);
    }
    /**
     * The runner's signals, handled for the whole run: the first one cancels, later ones do not kill
     * the process before its duties are done; shortly before SIGKILL, what is left is named. Returns
     * what ends the watch.
     */
    watchSignals() {
        let lastChance;
        const handler = (name) => {
            const first = !this.#by;
            this.cancel(name);
            if (first)
                lastChance = setTimeout(() => this.lastChance(), this.#by.killAt - Date.now() - LAST_CHANCE_MS).unref();
        };
        const signals = ['SIGINT', 'SIGTERM'];
        for (const name of signals)
            process.on(name, handler);
        return () => {
            clearTimeout(lastChance);
            for (const name of signals)
                process.removeListener(name, handler);
        };
    }
}

;// CONCATENATED MODULE: ./src/lib/step-key.ts

/** The runner's GITHUB_RUN_ID, GITHUB_JOB and GITHUB_ACTION; undefined outside a runner (any of them missing). */
function readStepKey(env) {
    const [runId, job, step] = [env.GITHUB_RUN_ID, env.GITHUB_JOB, env.GITHUB_ACTION];
    return runId && job && step ? { runId, job, step } : undefined;
}
/** The image properties that mark a snapshot as this step's (github_run_id is the provenance's). Nova takes values of at most 255 characters. */
function step_key_stepProperties(key) {
    return { github_run_id: key.runId.slice(0, 255), [Property.Job]: key.job.slice(0, 255), [Property.Step]: key.step.slice(0, 255) };
}

;// CONCATENATED MODULE: ./src/lib/name-template.ts
const pad = (n) => String(n).padStart(2, '0');
const dateOf = (d) => `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
const timeOf = (d) => `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
const TOKENS = {
    instance: (v) => v.instance,
    instance_id: (v) => v.instance_id,
    region: (v) => v.region,
    date: (v) => dateOf(v.now),
    time: (v) => timeOf(v.now),
    timestamp: (v) => `${dateOf(v.now)}-${timeOf(v.now)}`,
    sha: (v) => (v.sha ?? '').slice(0, 7),
    run_id: (v) => v.run_id ?? '',
    run_attempt: (v) => v.run_attempt ?? '',
    repo: (v) => (v.repo ?? '').split('/').pop() ?? '',
    ref_name: (v) => v.ref_name ?? '',
};
const DEFAULT_NAME_TEMPLATE = '{instance}-{timestamp}';
const TEMPLATE_TOKENS = Object.keys(TOKENS);
const TOKEN = /\{([^{}]*)\}/g;
/** Problems with a template, found before any request: unknown tokens, stray braces. */
function templateProblems(template) {
    const problems = [];
    if (!template.trim())
        problems.push('it is empty');
    const unknown = [...template.matchAll(TOKEN)].map((m) => m[1] ?? '').filter((token) => !(token in TOKENS));
    if (unknown.length)
        problems.push(`unknown ${unknown.map((t) => `{${t}}`).join(', ')}; valid tokens are ${TEMPLATE_TOKENS.map((t) => `{${t}}`).join(' ')}`);
    if (/[{}]/.test(template.replace(TOKEN, '')))
        problems.push('it has a "{" or "}" that is not part of a {token}');
    return problems;
}
function name_template_renderName(template, values) {
    return template.replace(TOKEN, (_, token) => TOKENS[token]?.(values) ?? '').trim();
}
/** The name with its `{instance}` part shortened (by whole characters) until it is at most `max` long. */
function name_template_renderFitted(template, values, max) {
    const chars = Array.from(values.instance);
    let name = name_template_renderName(template, values);
    while (name.length > max && chars.length) {
        chars.pop();
        name = name_template_renderName(template, { ...values, instance: chars.join('') });
    }
    return name;
}
/**
 * The glob that matches every name the template makes for this instance: what a create's own
 * prune may touch. Tokens that change from run to run become `*`.
 */
function templateGlob(template, values) {
    const fixed = { instance: values.instance, instance_id: values.instance_id, region: values.region };
    const escape = (text) => text.replace(/[*?]/g, '?');
    return template
        .replace(TOKEN, (_, token) => {
        const value = fixed[token];
        return value === undefined ? '*' : escape(value);
    })
        .trim();
}

;// CONCATENATED MODULE: ./src/modes/server-wait.ts



/** States a server leaves by itself: worth waiting for. */
const TRANSITIONAL = new Set(['BUILD', 'REBOOT', 'HARD_REBOOT', 'REBUILD', 'RESIZE', 'MIGRATING', 'PASSWORD']);
/** What is to be done to the server, and the states Nova does it in (check_instance_state on its API). */
const server_wait_SNAPSHOT = { verb: 'snapshot', done: 'snapshotted', states: ['ACTIVE', 'SHUTOFF', 'SUSPENDED', 'PAUSED'] };
const REBUILD = { verb: 'rebuild', done: 'rebuilt', states: ['ACTIVE', 'SHUTOFF', 'ERROR'] };
/** Another operation (a snapshot, a reboot) is under way on the server. */
const server_wait_busy = (server) => server.taskState !== null || TRANSITIONAL.has(server.status);
function refused(server, action) {
    const states = `${action.states.slice(0, -1).join(', ')} or ${action.states.at(-1)}`;
    return new StepError(`Instance ${server.name} (${server.id}) is ${server.status}: Nova can ${action.verb} an instance that is ${states}`);
}
/**
 * The server once Nova would accept the action on it, within the deadline. `server` is what was
 * last seen of it; with `stale`, Nova said otherwise since, so it is looked at again.
 */
async function server_wait_untilFree(compute, server, action, deadline, stale = false) {
    const accepted = (s) => action.states.includes(s.status);
    if (!stale && !server_wait_busy(server)) {
        if (accepted(server))
            return server;
        throw refused(server, action);
    }
    if (!stale)
        log.info(t `Instance ${server.name} is ${server.status}${server.taskState ? t ` (task_state ${server.taskState})` : ''}: waiting until it can be ${action.done}`);
    let seen = server;
    const outcome = await poll(async () => {
        const look = await deadline.look((signal) => compute.getServer(server.id, signal));
        if (look === CUT_SHORT)
            return { done: false, value: seen };
        if (!look)
            throw new StepError(`Instance ${server.name} (${server.id}) was deleted while waiting to ${action.verb} it`);
        seen = look;
        return { done: !server_wait_busy(look), value: look };
    }, deadline);
    if (!outcome.done) {
        throw new StepError(`Timed out waiting for instance ${server.name} (${server.id}) to be free: it is still ${seen.status}${seen.taskState ? ` with task_state ${seen.taskState}` : ''}. ` +
            `Another snapshot or operation is running; check it with: openstack server show ${server.id} -c status -c OS-EXT-STS:task_state`);
    }
    if (!accepted(outcome.value))
        throw refused(outcome.value, action);
    return outcome.value;
}

;// CONCATENATED MODULE: ./src/modes/create/create-image.ts





/** createImage attempts at most, each after proof (or a check) that no image was made. */
const MAX_CREATE_ATTEMPTS = 4;
/** How long an ambiguous createImage is given to show its image before it is sent again. */
const SETTLE_MS = 10_000;
const CREATE_REQUEST_TIMEOUT_MS = 180_000;
/**
 * createImage, at most one image however it fails. After an ambiguous failure (timeout, reset,
 * 5xx) the image list is searched for the request's ID before anything is sent again. A 409 for
 * a busy task_state is waited out and retried. Returns the new image's ID.
 */
async function create_image_createImageOnce(compute, images, request, deadline) {
    const requestId = request.metadata[Property.RequestId] ?? '';
    let server = request.server;
    for (let attempt = 1;; attempt += 1) {
        try {
            return await compute.createImage(server.id, request.name, request.metadata, CREATE_REQUEST_TIMEOUT_MS);
        }
        catch (error) {
            if (attempt >= MAX_CREATE_ATTEMPTS || deadline.passed)
                throw error;
            if (error instanceof ConflictError) {
                log.info(t `Nova answered 409 (${error.message}); waiting for the instance to be free`);
                server = await untilFree(compute, server, SNAPSHOT, deadline, true);
                continue;
            }
            // A refused redirect was not sent on: nothing to look for, and sending again would be refused too.
            if (refusedBeforeActing(error) || error instanceof CrossHostError)
                throw error;
            log.warning(t `createImage failed without a clear answer (${codeOf(error) ?? statusOf(error) ?? error.message}); looking for the snapshot it may have made`);
            const found = await settle(compute, images, server, requestId);
            if (found) {
                log.info(t `The snapshot was made after all: ${found.id}`);
                return found.id;
            }
            server = await untilFree(compute, server, SNAPSHOT, deadline, true);
        }
    }
}
/** After an ambiguous createImage: the image it made, if any, once the server is idle again or SETTLE_MS passed. */
async function settle(compute, images, server, requestId) {
    const made = async () => (await images.listAll({ [Property.RequestId]: requestId }))[0];
    const outcome = await poll(async () => {
        const image = await made();
        if (image)
            return { done: true, value: image };
        const now = await compute.getServer(server.id);
        // Nova creates the image before it answers; an idle server with no image means nothing was done.
        return { done: !!now && !busy(now), value: undefined };
    }, Deadline.after(SETTLE_MS));
    return outcome.done ? outcome.value : made();
}

;// CONCATENATED MODULE: ./src/modes/create/stopped.ts







/** Task states while Nova still reads the disk; from image_uploading on, the disk has been captured. */
const stopped_CAPTURING = new Set(['image_snapshot_pending', 'image_snapshot', 'image_pending_upload']);
/** How long Nova is given to accept os-start once the run tries to start a server again (it refuses while a snapshot's task runs). */
const stopped_RESTART_MS = 60_000;
/** Between two os-start requests that Nova refused or did not clearly answer. */
const RETRY_MS = 500;
/** os-start requests without a clear answer (5xx, none) before the server is named as down. */
const UNCLEAR_ATTEMPTS = 3;
/** Poll the server until `done`, within the deadline; the last look otherwise. */
async function until(compute, server, deadline, done) {
    let seen = server;
    const outcome = await poll(async () => {
        const look = await deadline.look((signal) => compute.getServer(server.id, signal));
        if (look === CUT_SHORT || !look)
            return { done: false, value: seen };
        seen = look;
        return { done: done(look), value: look };
    }, deadline);
    return { done: outcome.done, server: seen };
}
/** Nova refused the os-stop before acting: the server was not stopped by this run, so it is never started by it. */
function refusedStop(server, error) {
    const why = statusOf(error) === 403
        ? `this login lacks the policy to stop instances (os_compute_api:servers:stop): ask the cloud's operator for it, or snapshot without ${Input.StopInstance}`
        : 'it may have been stopped or changed by someone else meanwhile';
    return new StepError(`Nova refused to stop instance ${server.name} (${server.id}): ${error instanceof Error ? error.message : String(error)}. Nothing was stopped, and nothing is started: ${why}`);
}
/**
 * Stop a running server for a consistent snapshot and wait until it is SHUTOFF; undefined when
 * it was not running (a SHUTOFF server is left so). Once Nova accepted the os-stop (or may have),
 * the server is started again whatever happens, a cancel included; a refused os-stop stops nothing.
 */
async function stopped_stopForSnapshot(compute, server, deadline, cancel) {
    if (server.status !== 'ACTIVE') {
        log.info(t `Instance ${server.name} is ${server.status}: left as it is (it is not running, so the snapshot is of a stopped disk)`);
        return undefined;
    }
    cancel.check(t `instance ${server.name} was stopped`);
    const stoppedAt = Date.now();
    let unclear;
    try {
        await compute.power(server.id, 'os-stop');
    }
    catch (error) {
        if (refusedBeforeActing(error))
            throw refusedStop(server, error);
        // No clear answer (5xx, none): Nova may have stopped it, so it is started again like one it did.
        unclear = error;
    }
    const stopped = {
        server,
        stoppedAt,
        release: cancel.owe(t `Instance ${server.name} (${server.id}) was stopped for the snapshot and is still down: start it with: openstack server start ${server.id}`),
    };
    try {
        if (unclear)
            throw unclear;
        log.info(t `Stopping instance ${server.name} for a consistent snapshot`);
        const off = await until(compute, server, deadline, (s) => s.status === 'SHUTOFF' && s.taskState === null);
        if (cancel.cancelled)
            throw cancel.error(t `while instance ${server.name} was being stopped, before its snapshot was requested`);
        if (!off.done)
            throw new StepError(`Instance ${server.name} (${server.id}) did not stop in time: it is ${off.server.status} (task_state ${off.server.taskState ?? 'none'})`);
        return { ...stopped, server: off.server };
    }
    catch (error) {
        await stopped_startAgain(compute, stopped, cancel);
        throw error;
    }
}
/** The server runs, or is being started: by an os-start whose answer was lost, by someone else, or it was never stopped. */
const started = (s) => !!s && ((s.status === 'ACTIVE' && s.taskState === null) || s.taskState === 'powering-on');
/**
 * os-start until Nova accepts it or the server is seen started. A 409 (the snapshot's task runs)
 * is waited out for RESTART_MS, or after a cancel until shortly before the runner kills the step.
 * False when the server is still down: it has then been named, with the command to start it.
 */
async function start(compute, stopped, cancel, deadline = Deadline.after(stopped_RESTART_MS, cancel.signal)) {
    const { server } = stopped;
    for (let attempt = 1;; attempt += 1) {
        try {
            await compute.power(server.id, 'os-start');
            stopped.release();
            return true;
        }
        catch (error) {
            const now = await compute.getServer(server.id).catch(() => undefined);
            if (started(now)) {
                stopped.release();
                return true;
            }
            const limit = cancel.cancelled ? cancel.grace() : deadline;
            const busy = error instanceof ConflictError;
            if ((!busy && (refusedBeforeActing(error) || attempt >= UNCLEAR_ATTEMPTS)) || Date.now() + RETRY_MS >= limit.at) {
                log.warning(t `Instance ${server.name} (${server.id}) was stopped for the snapshot and could not be started again: ${error}. Start it with: openstack server start ${server.id}`);
                stopped.release();
                return false;
            }
            await sleep(RETRY_MS);
            // Nova accepts os-start once the snapshot's task is over: looked at rather than asked again, unless the job is ending.
            if (busy && !cancel.cancelled)
                await until(compute, server, deadline, (s) => s.taskState === null).catch(() => undefined);
        }
    }
}
/**
 * Start the server again as soon as Nova has captured its disk and lets it be started (it refuses
 * os-start with 409 until the snapshot's task is over), and wait until it runs: how long it was
 * down, or, when it is not seen running by the deadline, why not (its downtime is then unknown).
 */
async function stopped_startWhenCaptured(compute, stopped, deadline, cancel) {
    const { server } = stopped;
    // A look that fails is no reason not to try to start it.
    await until(compute, server, deadline, (s) => !stopped_CAPTURING.has(s.taskState ?? '')).catch(() => undefined);
    // Nova refuses os-start until the upload after the capture ended too (minutes for a large disk): asked within the step's timeout.
    const uploadEnds = Deadline.after(Math.max(stopped_RESTART_MS, deadline.at - Date.now()), cancel.signal);
    if (!(await start(compute, stopped, cancel, uploadEnds)))
        return { problem: `Instance ${server.name} (${server.id}) is still down: start it with: openstack server start ${server.id}` };
    let seen;
    try {
        const up = await until(compute, server, cancel.cancelled ? cancel.grace() : deadline, (s) => s.status === 'ACTIVE' && s.taskState === null);
        if (!up.done)
            seen = `it is still ${up.server.status} (task_state ${up.server.taskState ?? 'none'})`;
    }
    catch (error) {
        seen = `looking at it failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (seen) {
        const problem = `Instance ${server.name} (${server.id}) was started again (Nova accepted os-start) but was not seen running: ${seen}, so its downtime is unknown. Check it with: openstack server show ${server.id}; if it is still SHUTOFF, start it with: openstack server start ${server.id}`;
        log.warning(t `${problem}`);
        return { problem };
    }
    const downtimeMs = Date.now() - stopped.stoppedAt;
    log.info(t `Started instance ${server.name} again: it was down ${formatDuration(downtimeMs)}`);
    return { downtimeMs };
}
/** After a failure or a cancel, before any snapshot was requested: start the server this run stopped (said in the log). */
async function stopped_startAgain(compute, stopped, cancel) {
    if (await start(compute, stopped, cancel)) {
        log.info(t `Started instance ${stopped.server.name} again after the ${cancel.cancelled ? 'cancel' : 'failure'}: it was down ${formatDuration(Date.now() - stopped.stoppedAt)}`);
    }
}

;// CONCATENATED MODULE: ./src/modes/create/captured.ts







/** Glance statuses that prove the disk was captured: its upload began (saving), or the snapshot is done (active). */
const PAST_CAPTURE = new Set(['saving', 'active']);
/**
 * Poll until the server's disk is captured. The signal is the server's task state (one request
 * per look, shared by a fleet) reaching `image_uploading`, confirmed: by one look at the image in
 * Glance, `saving` (the extracted disk is being uploaded) or `active`, or by the next look still
 * showing `image_uploading`. The libvirt driver also sets `image_uploading` for a moment (two
 * database writes) before it tries a direct (Ceph) snapshot, and goes back to
 * `image_pending_upload` when the backend cannot make one: one look alone could fall in that
 * moment. The task ending is the other end (the image is then looked at once). Throws a failure
 * that names the image when the disk is not captured.
 */
async function captured_untilCaptured(compute, images, server, imageId, deadline, looks) {
    const started = Date.now();
    let lastState;
    let image;
    let seen = server;
    let uploadingBefore = false;
    const outcome = await poll(async () => {
        const look = await deadline.look((signal) => (looks ? looks.servers.look(server.id) : compute.getServer(server.id, signal)));
        if (look === CUT_SHORT)
            return { done: false, value: seen };
        seen = look;
        const state = look ? (look.taskState ?? 'none') : 'gone';
        if (state !== lastState) {
            log.info(t `[${formatDuration(Date.now() - started)}] instance ${server.name}: task_state ${state}`);
            lastState = state;
        }
        const uploading = look?.taskState === 'image_uploading';
        // Still image_uploading a look later: past the direct snapshot's moment.
        const confirmed = uploading && uploadingBefore;
        uploadingBefore = uploading;
        if (look && CAPTURING.has(look.taskState ?? ''))
            return { done: false, value: look };
        const imageLook = await deadline.look((signal) => (looks ? looks.images.look(imageId) : images.get(imageId, [GUEST_AGENT], signal)));
        if (imageLook === CUT_SHORT)
            return { done: false, value: look };
        image = imageLook;
        // image_uploading seen once with the image still queued: perhaps the direct snapshot's moment.
        return { done: !uploading || confirmed || !image || PAST_CAPTURE.has(image.status) || DEAD.has(image.status), value: look };
    }, deadline, looks?.servers.grid ?? new PollGrid(promptPollDelay));
    const capturedAt = new Date();
    if (!outcome.done) {
        throw new StepError(`Timed out waiting for the disk of instance ${server.name} (${server.id}) to be captured for snapshot ${imageId}: its task_state is still ${lastState ?? 'unknown'}` +
            `${image ? ` and the snapshot ${image.status}` : ''} after ${formatDuration(Date.now() - started)}. The snapshot goes on in the cloud; check it with: openstack image show ${imageId} -c status`, { imageId });
    }
    if (outcome.done && !outcome.value)
        throw new StepError(`Instance ${server.name} (${server.id}) was deleted while its snapshot ${imageId} was being taken`, { imageId });
    if (!image || DEAD.has(image.status)) {
        throw new StepError(`The snapshot failed: snapshot ${imageId} is ${image?.status ?? 'gone'} once the task on instance ${server.name} (${server.id}) ended (see the instance's actions: openstack server event list ${server.id})`, { imageId });
    }
    log.info(t `[${formatDuration(Date.now() - started)}] disk of instance ${server.name} captured: snapshot ${imageId} is ${image.status}`);
    return { capturedAt, image, polls: outcome.polls };
}

;// CONCATENATED MODULE: ./src/modes/snapshots.ts

/**
 * The properties by which the action knows its snapshots, and the instance's name the prune
 * summary shows: what the modes ask Glance to keep of an image they judge.
 */
const snapshots_MARKS = [
    constants_Property.ManagedBy,
    constants_Property.InstanceId,
    constants_Property.InstanceName,
    constants_Property.BeforeRestoreOf,
    constants_Property.VerifiedAt,
    constants_Property.VerifyResult,
];
/** This action made it (its managed_by property). */
const snapshots_isManaged = (image) => image.properties[constants_Property.ManagedBy] === constants_MANAGED_BY;
/**
 * The instances the image says it is a snapshot of: this action's property and Nova's. Both are
 * anyone's to edit in the project, so an image is one instance's only when every one names it.
 */
function snapshots_instancesOf(image) {
    const named = [image.properties[constants_Property.InstanceId], image.instanceUuid];
    return [...new Set(named.filter((id) => typeof id === 'string' && id !== ''))];
}
/** Restore took it of the server just before rebuilding it (snapshot-before): the image it then restored. */
function snapshots_beforeRestoreOf(image) {
    const restored = image.properties[constants_Property.BeforeRestoreOf];
    return typeof restored === 'string' && restored ? restored : null;
}
/**
 * A snapshot of an instance: Nova's mark on an image-backed one, the block device mapping of a
 * volume-backed one, or this action's mark. Anything else (an uploaded image) is not ours to delete.
 */
const snapshots_isInstanceSnapshot = (image) => image.imageType === 'snapshot' || snapshots_isManaged(image) || (image.bdmV2 && image.volumeSnapshotIds.length > 0);
/** A verify booted it, the last time one ran: its verified_at, and no failure since. */
const isVerified = (image) => typeof image.properties[constants_Property.VerifiedAt] === 'string' && image.properties[constants_Property.VerifyResult] === 'passed';

;// CONCATENATED MODULE: ./src/modes/create/rerun.ts




/** Statuses of a snapshot that is or will be usable: a re-run takes it rather than a second one. */
const USABLE = new Set(['active', 'queued', 'saving', 'uploading', 'importing']);
/** The marks a re-run's snapshot must bear, each checked again on the image. */
const CHECKED = ['github_run_id', constants_Property.Job, constants_Property.Step, constants_Property.ManagedBy, constants_Property.InstanceId];
/** The properties a re-run reads: those, the instances' (the action's marks), and the attempt it names in the log. */
const STEP_MARKS = [...snapshots_MARKS, ...CHECKED, 'github_run_attempt'];
/**
 * The snapshot this step already took of this server in an earlier attempt of the same workflow
 * run (a re-run), if it is still usable: a second one would capture what the deploy after the
 * first attempt left, and become the newest roll-back point. Every mark is checked here again (a
 * listing's filters are only a first cut), and only this project's images count.
 */
async function rerun_earlierAttempt(images, server, key, projectId) {
    const marks = { ...stepProperties(key), [Property.ManagedBy]: MANAGED_BY, [Property.InstanceId]: server.id };
    const found = (await images.listAll({ ...marks, owner: projectId, sort: 'created_at:desc' }, STEP_MARKS)).filter((image) => image.owner === projectId &&
        USABLE.has(image.status) &&
        instancesOf(image).every((id) => id === server.id) &&
        CHECKED.every((name) => image.properties[name] === marks[name]));
    const [newest] = found;
    if (newest) {
        log.info(t `Re-run: snapshot ${newest.id} "${newest.name ?? ''}" of instance ${server.name} was taken by an earlier attempt of this step (run ${key.runId}, job ${key.job}, step ${key.step}; attempt ${String(newest.properties.github_run_attempt ?? '?')}), and is ${newest.status}: reused, no second snapshot taken`);
    }
    return newest;
}

;// CONCATENATED MODULE: ./src/modes/create/server-looks.ts


/** How far before this run the listing reaches back: the cloud's clock may differ from the runner's. */
const CLOCK_SKEW_MS = (/* unused pure expression or super */ null && (5 * 60_000));
/**
 * The looks at a fleet's servers while their disks are captured: the waits poll on one prompt
 * grid, and the looks asked for at about the same moment go to Nova as one listing of the servers
 * changed since the run began (`changes-since`: each snapshot request changes its server), instead
 * of one GET each. A server the listing misses is looked at on its own.
 */
class server_looks_ServerLooks {
    grid = new PollGrid(promptPollDelay);
    #batch;
    constructor(compute) {
        const since = new Date(Date.now() - CLOCK_SKEW_MS).toISOString().replace(/\.\d+Z$/, 'Z');
        this.#batch = new Batched(async (ids) => {
            const listed = new Map();
            for await (const server of compute.servers({ 'changes-since': since }))
                if (ids.includes(server.id))
                    listed.set(server.id, server);
            const seen = new Map();
            for (const id of ids) {
                // Listed DELETED (changes-since shows deleted servers), or missed: gone, or looked at on its own.
                const server = listed.get(id);
                seen.set(id, server ? (server.status === 'DELETED' ? undefined : server) : await compute.getServer(id));
            }
            return seen;
        });
    }
    /** The server as Nova shows it now, or undefined once it is gone. */
    look(id) {
        return this.#batch.get(id);
    }
}

;// CONCATENATED MODULE: ./src/settings/metadata.ts
/** Nova's rules for metadata, of a server as of a createImage (parameter_types.metadata). */
const KEY = /^[a-zA-Z0-9-_:. ]{1,255}$/;
const MAX_VALUE = 255;
/** Glance base attributes and namespaces a property may not take. */
const RESERVED = new Set([
    'id',
    'name',
    'status',
    'container_format',
    'disk_format',
    'size',
    'virtual_size',
    'checksum',
    'created_at',
    'updated_at',
    'visibility',
    'protected',
    'owner',
    'min_ram',
    'min_disk',
    'tags',
    'locations',
    'direct_url',
    'self',
    'file',
    'schema',
    'os_hidden',
    'os_hash_algo',
    'os_hash_value',
    'image_type',
    'instance_uuid',
    'block_device_mapping',
    'bdm_v2',
]);
/**
 * Parse `key=value` lines (blank lines and `#` comments skipped). Returns the pairs and the
 * problems, each naming its line, so all of them are reported at once. An image's properties
 * also may not take Glance's attributes; a server's metadata has only Nova's rules.
 */
function parseMetadata(text, of, reservedByAction = []) {
    const metadata = {};
    const problems = [];
    text.split(/\r?\n/).forEach((raw, index) => {
        const line = raw.trim();
        if (!line || line.startsWith('#'))
            return;
        const where = `line ${index + 1} ("${line.length > 40 ? `${line.slice(0, 40)}…` : line}")`;
        const eq = line.indexOf('=');
        if (eq < 0) {
            problems.push(`${where} is not key=value`);
            return;
        }
        const key = line.slice(0, eq).trim();
        const value = line.slice(eq + 1).trim();
        if (!KEY.test(key))
            problems.push(`${where}: the key must be 1 to 255 of the characters a-z A-Z 0-9 - _ : . and space`);
        else if (of === 'image' && (RESERVED.has(key) || key.startsWith('os_glance')))
            problems.push(`${where}: "${key}" is an image attribute OpenStack sets itself`);
        else if (reservedByAction.includes(key))
            problems.push(`${where}: "${key}" is set by this action itself`);
        else if (value.length > MAX_VALUE)
            problems.push(`${where}: the value is ${value.length} characters long, Nova takes at most ${MAX_VALUE}`);
        else if (key in metadata)
            problems.push(`${where}: "${key}" is given twice`);
        else
            metadata[key] = value;
    });
    return { metadata, problems };
}

;// CONCATENATED MODULE: ./src/settings/selection.ts



/** The selection of the inputs; what is wrong goes to `problems`, each naming its input. */
function readSelection(problems, bool) {
    const names = [
        ...new Set(lib_core/* getInput */.V4(constants_Input.Instance)
            .split(/\r?\n/)
            .map((line) => line.trim())
            .filter(Boolean)),
    ];
    const tags = [
        ...new Set(lib_core/* getInput */.V4(constants_Input.InstanceTags)
            .split(/[,\n]/)
            .map((tag) => tag.trim())
            .filter(Boolean)),
    ];
    for (const tag of tags)
        if (tag.length > 60 || tag.includes('/'))
            problems.push(`${constants_Input.InstanceTags}: "${tag}" is not a Nova server tag (at most 60 characters, no "/")`);
    const parsed = parseMetadata(lib_core/* getInput */.V4(constants_Input.InstanceMetadata), 'server');
    problems.push(...parsed.problems.map((p) => `${constants_Input.InstanceMetadata}: ${p}`));
    return { names, tags, metadata: parsed.metadata, allowEmpty: bool(constants_Input.AllowEmptySelection, false) };
}
/** The selection names more than the one server the name or ID gives. */
const selection_hasSelector = (selection) => selection.tags.length > 0 || Object.keys(selection.metadata).length > 0;
/** What is wrong with the selection for this mode: one snapshot named exactly (`exactSnapshot`) is one server's. */
function selectionProblems(mode, selection, exactSnapshot) {
    // Mode copy's rules check its selection (settings/copy.ts): an ID, or instances as restore takes them.
    if (mode === 'copy')
        return [];
    const several = selection.names.length > 1 || selection_hasSelector(selection);
    const given = selection.names.length > 0 || selection_hasSelector(selection);
    // Verify selects as restore does: the instances, each with its own newest snapshot (or the one named).
    if (mode === 'verify')
        return selectionProblems('restore', selection, exactSnapshot).map((p) => p.replace(/mode restore|restore(?= each)/g, (m) => m.replace('restore', 'verify')));
    if (mode === 'create' || mode === 'restore') {
        if (!given && !process.env[`INPUT_${constants_Input.Instance.toUpperCase()}`]?.length) {
            return [
                `${constants_Input.Instance}: required for mode ${mode}: the name or ID of the instance (one a line), or ${constants_Input.InstanceTags} / ${constants_Input.InstanceMetadata} to select instances`,
            ];
        }
        // They add up: a name beside a selector would rebuild every server the selector picks too.
        if (mode === 'restore' && selection.names.length && selection_hasSelector(selection)) {
            const selector = [
                ...(selection.tags.length ? [`${constants_Input.InstanceTags}: ${selection.tags.join(',')}`] : []),
                ...(Object.keys(selection.metadata).length
                    ? [
                        `${constants_Input.InstanceMetadata}: ${Object.entries(selection.metadata)
                            .map(([k, v]) => `${k}=${v}`)
                            .join(', ')}`,
                    ]
                    : []),
            ].join(' and ');
            return [
                `${constants_Input.Instance} and ${constants_Input.InstanceTags} / ${constants_Input.InstanceMetadata}: mode restore takes the instances by name or by selector, not both: they add up, so ${selector} rebuilds every instance it picks besides those named. ` +
                    `Give only ${constants_Input.Instance}, or only the selector to restore every instance it picks`,
            ];
        }
        if (mode === 'restore' && several && exactSnapshot) {
            return [
                `${constants_Input.SnapshotId} / ${constants_Input.SnapshotName}: an exact snapshot is one instance's; give one instance, or leave them out (or give a glob) to restore each instance from its own newest snapshot`,
            ];
        }
        return [];
    }
    const problems = [];
    if (selection.names.length > 1)
        problems.push(`${constants_Input.Instance}: mode ${mode} takes one instance name or ID (one line)`);
    if (selection_hasSelector(selection) || selection.allowEmpty)
        problems.push(`${constants_Input.InstanceTags}, ${constants_Input.InstanceMetadata}, ${constants_Input.AllowEmptySelection}: only for modes create and restore`);
    return problems;
}

;// CONCATENATED MODULE: ./src/modes/servers.ts




/** Exactly one server, named once and by nothing else: the path of one step, one server. */
const servers_isSingle = (selection) => selection.names.length === 1 && !hasSelector(selection);
const sameId = (a, b) => a.replace(/-/g, '').toLowerCase() === b.replace(/-/g, '').toLowerCase();
/**
 * The server, if it is of this project: an admin login is shown any project's server by its ID,
 * so a mistyped UUID could otherwise reach another project's.
 */
function ofProject(server, projectId) {
    if (server.projectId === projectId)
        return server;
    throw new outcome_StepError(`${constants_Input.Instance}: instance ${server.name} (${server.id}) belongs to project ${server.projectId ?? '(none shown)'}, not to this one (${projectId}), ` +
        `so nothing was done to it or its snapshots. Check the name or ID (a login with the admin role is shown other projects' instances by ID)`);
}
/** The server carries every tag and metadata pair of the selector. */
function matches(server, selection) {
    return (selection.tags.every((tag) => server.tags?.includes(tag)) && Object.entries(selection.metadata).every(([key, value]) => server.metadata[key] === value));
}
/**
 * The servers of the selection, each once: every name matched exactly (none or several is an
 * error before anything is done), plus what the selector picks. One listing serves them all.
 * Each must be of the project `projectId`.
 */
async function servers_selectServers(compute, selection, projectId) {
    const [only] = selection.names;
    if (only !== undefined && servers_isSingle(selection))
        return [ofProject(await compute.findServer(only), projectId)];
    // Nova filters on tags (all of them) itself; names need the whole listing.
    const query = !selection.names.length && selection.tags.length ? { tags: selection.tags.join(',') } : {};
    const listed = [];
    for await (const server of compute.servers(query))
        listed.push(server);
    if (selection.tags.length && listed.some((server) => server.tags === undefined)) {
        throw new StepError(`${Input.InstanceTags}: this Nova shows no server tags (they need microversion 2.26; it answered at ${compute.microversion}); select by ${Input.InstanceMetadata} or by name`);
    }
    const chosen = new Map();
    for (const name of selection.names) {
        const byId = listed.find((server) => sameId(server.id, name));
        const named = byId ? [byId] : listed.filter((server) => server.name === name);
        const [one, ...more] = named;
        if (!one)
            throw new NotFoundError('server', name);
        if (more.length)
            throw new AmbiguousError('server', name, named.map((server) => server.id));
        chosen.set(one.id, one);
    }
    if (hasSelector(selection)) {
        const picked = listed.filter((server) => matches(server, selection));
        if (!picked.length && !selection.allowEmpty) {
            const what = [...selection.tags.map((tag) => `tag ${tag}`), ...Object.entries(selection.metadata).map(([k, v]) => `metadata ${k}=${v}`)].join(' and ');
            throw new StepError(`No instance has ${what}: check ${Input.InstanceTags} and ${Input.InstanceMetadata}, or set ${Input.AllowEmptySelection}: true if an empty fleet is fine`);
        }
        for (const server of picked)
            chosen.set(server.id, server);
    }
    return [...chosen.values()].map((server) => ofProject(server, projectId));
}

;// CONCATENATED MODULE: ./src/modes/fleet.ts





/**
 * Run `each` for the servers the settings select: one server named once is a step of its own
 * (its result is the mode's); several are a fleet. `inFleet` says which. Once `cancel` is set,
 * no further server is begun.
 */
async function fleet_forSelection(cloud, settings, of, each, cancel) {
    const servers = await selectServers(await cloud.compute(), settings.servers, await cloud.projectId());
    const [only] = servers;
    if (only && isSingle(settings.servers))
        return each(only, false);
    if (!servers.length)
        log.notice(t `No instance matches the selection: nothing to ${of === 'create' ? 'snapshot' : of} (${Input.AllowEmptySelection})`);
    return forEachServer(of, servers, settings, (server) => each(server, true), cancel);
}
/**
 * Run `each` for every server, `concurrency` (max-parallel) at a time (the client holds the rate ceiling for all
 * of them). One server's failure does not stop the others: the step fails at the end, naming each.
 */
async function forEachServer(of, servers, options, each, cancel) {
    log.info(t `${servers.length} instance(s): ${servers.map((server) => server.name).join(', ')}; ${Math.min(options.concurrency, servers.length)} at a time`);
    // Many lines per instance, interleaved: folded in the log (the warnings still show as annotations).
    const items = await log.group(t `${of === 'create' ? 'Snapshots' : of === 'verify' ? 'Verifies' : 'Restores'} of ${servers.length} instance(s)`, () => pMap(servers, (server) => within(server.name, async () => {
        let outcome;
        try {
            cancel?.check(t `instance ${server.name} was ${of === 'create' ? 'snapshotted' : of === 'verify' ? 'verified' : 'restored'}: it was not touched`);
            outcome = await each(server);
        }
        catch (error) {
            outcome = { failure: asFailure(error, options) };
        }
        if (outcome.failure)
            log.warning(t `${outcome.failure.message}`);
        return { server, ...outcome };
    }), { concurrency: options.concurrency }));
    const failed = items.filter((item) => item.failure);
    const result = { mode: 'fleet', of, items };
    if (!failed.length)
        return { result };
    return {
        result,
        failure: new StepError(`${failed.length} of ${items.length} instance(s) failed: ${failed.map((item) => `${item.server.name}: ${item.failure?.message}`).join('; ')}`),
    };
}

;// CONCATENATED MODULE: ./src/lib/glob.ts
// Shell-style name patterns for selecting snapshots: `*` is any run of characters (none too), `?`
// exactly one character, everything else literal. There is no escape: `*` and `?` always wildcard.
// The characters with a meaning in a regex outside a class; under the `u` flag only these may be escaped.
const SYNTAX = /[\\^$.*+?()[\]{}|]/g;
const segmentSource = (segment) => segment
    .split('?')
    .map((part) => part.replace(SYNTAX, '\\$&'))
    .join('.');
/**
 * Full, case-sensitive match. `u` makes `?` one code point (an emoji is one character) and `s` lets
 * wildcards cover line breaks.
 *
 * A naive `.*a.*b.*` backtracks polynomially in the number of stars (`*-*-*-*-*-*-*` against a long
 * name that fails late can hang the action). Instead each segment between stars is matched at its
 * first occurrence and then never revisited: `(?=(.*?seg))\1` behaves as an atomic group, since JS
 * never backtracks into a finished lookahead. First occurrence is always safe for fixed-length
 * segments: it ends earliest, leaving the most room for the rest. Only the final segment must end
 * the name, so it alone keeps an ordinary `.*`.
 */
function glob_globToRegExp(glob) {
    const segments = glob.split(/\*+/).map(segmentSource);
    if (segments.length === 1)
        return new RegExp(`^${segments[0]}$`, 'su');
    const middle = segments.slice(1, -1).map((segment, i) => `(?=(.*?${segment}))\\${i + 1}`);
    return new RegExp(`^${segments[0]}${middle.join('')}.*${segments[segments.length - 1]}$`, 'su');
}
function hasWildcard(glob) {
    return /[*?]/.test(glob);
}

;// CONCATENATED MODULE: ./src/lib/retention.ts
// Which snapshots to keep, with restic `forget` semantics (restic internal/data/snapshot_policy.go).

class PolicyError extends Error {
    name = 'PolicyError';
}
const RULES = ['last', 'within', 'hourly', 'daily', 'weekly', 'monthly', 'yearly', 'oldest', 'newest', 'protected', 'future', 'verified'];
const BUCKET_RULES = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'];
const COUNT_RULES = ['last', ...BUCKET_RULES];
const retention_HOUR = 3_600_000;
const retention_DAY = 24 * retention_HOUR;
const WEEK = 7 * retention_DAY;
// One number per UTC calendar bucket. Epoch time has no leap seconds and UTC no DST, so hours and
// days are plain divisions. 1970-01-01 was a Thursday, so shifting by 3 days makes weeks run
// Monday–Sunday: each such week is exactly one ISO week (week-year + number), the same partition
// as restic's ISOWeek key, and New Year splits no week.
const BUCKET_KEY = {
    hourly: (ms) => Math.floor(ms / retention_HOUR),
    daily: (ms) => Math.floor(ms / retention_DAY),
    weekly: (ms) => Math.floor((ms + 3 * retention_DAY) / WEEK),
    monthly: (ms) => new Date(ms).getUTCFullYear() * 12 + new Date(ms).getUTCMonth(),
    yearly: (ms) => new Date(ms).getUTCFullYear(),
};
function validatePolicy(p) {
    if (COUNT_RULES.every((rule) => p[rule] === undefined) && p.within === undefined) {
        throw new PolicyError('no retention policy given: set at least one of keep-last, keep-within, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly');
    }
    for (const rule of COUNT_RULES) {
        const n = p[rule];
        if (n !== undefined && !(Number.isSafeInteger(n) && n > 0)) {
            throw new PolicyError(`keep-${rule} must be a whole number of at least 1, got ${n}`);
        }
    }
    if (p.verified !== undefined && !(Number.isSafeInteger(p.verified) && p.verified > 0)) {
        throw new PolicyError(`keep-verified must be a whole number of at least 1, got ${p.verified}`);
    }
    if (p.within !== undefined && !(Number.isFinite(p.within) && p.within > 0)) {
        throw new PolicyError(`keep-within must be a duration longer than zero, got ${p.within} ms`);
    }
}
// Newest first; equal times fall back to id so the result never depends on input order.
const newestFirst = (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
/**
 * One decision per snapshot, newest first. Rules are ORed. Future-dated and protected snapshots
 * still take part in counting (as restic's kept-by-tag ones do), so `keep-last 3` means three
 * snapshots, not three plus the protected ones.
 */
function decide(snapshots, policy, now) {
    validatePolicy(policy);
    const nowMs = now.getTime();
    if (Number.isNaN(nowMs))
        throw new RangeError('now is an invalid date');
    for (const s of snapshots) {
        if (Number.isNaN(s.createdAt.getTime()))
            throw new RangeError(`snapshot ${s.id} has an invalid creation date`);
    }
    // Newest first, each with its time and the rules that keep it.
    const entries = [...snapshots].sort(newestFirst).map((snapshot) => ({ snapshot, time: snapshot.createdAt.getTime(), kept: new Set() }));
    const oldest = entries.at(-1);
    if (!oldest)
        return [];
    // last n: the n newest.
    for (const entry of entries.slice(0, policy.last ?? 0))
        entry.kept.add('last');
    // The newest snapshot not dated in the future. restic anchors keep-within here rather than at
    // `now`, so a project whose snapshots stopped never loses them all, and a stray future-dated one
    // cannot drag the window away from the rest. It is also the one always kept: the real latest
    // state of the instance (a future-dated newer one is kept by 'future' anyway).
    const newest = entries.find((entry) => entry.time <= nowMs);
    // within d: everything strictly younger than d before the newest.
    if (policy.within !== undefined && newest) {
        const cutoff = newest.time - policy.within;
        for (const entry of entries)
            if (entry.time > cutoff)
                entry.kept.add('within');
    }
    // hourly…yearly n: walking newest → oldest, the first snapshot met in each bucket is that
    // bucket's newest; keep it until n buckets are kept. Sorted times make buckets contiguous.
    for (const rule of BUCKET_RULES) {
        const n = policy[rule];
        if (n === undefined)
            continue;
        let buckets = 0;
        let previous;
        for (const entry of entries) {
            if (buckets >= n)
                break;
            const key = BUCKET_KEY[rule](entry.time);
            if (key !== previous) {
                entry.kept.add(rule);
                buckets++;
                previous = key;
            }
        }
        // restic ≥ 0.17: with fewer than n buckets the oldest snapshot is kept too, so the history
        // kept is as long as possible. Only reported when the rule did not already keep it. keep-within
        // needs no such case: if its window reaches the oldest, it keeps it itself.
        if (buckets < n && !oldest.kept.has(rule))
            oldest.kept.add('oldest');
    }
    newest?.kept.add('newest');
    // verified n: the n newest that a verify booted, whatever the rules above chose.
    for (const entry of entries.filter((e) => e.snapshot.verified).slice(0, policy.verified ?? 0))
        entry.kept.add('verified');
    for (const entry of entries) {
        if (entry.snapshot.protected)
            entry.kept.add('protected');
        // Never delete what the clock says cannot exist yet: a skewed clock must not cost data.
        if (entry.time > nowMs)
            entry.kept.add('future');
    }
    return entries.map(({ snapshot, kept }) => ({
        snapshot,
        keep: kept.size > 0,
        reasons: RULES.filter((rule) => kept.has(rule)),
    }));
}
/** For logs, e.g. `keep-last 3, keep-daily 7, keep-within 30d`. */
/**
 * The policy over each group on its own (the snapshots of one instance: keep-last 3 over six
 * servers keeps three of each, never three of the fleet), newest first across the groups.
 */
function decideEach(groups, policy, now) {
    return [...groups].flatMap((group) => decide(group, policy, now)).sort((a, b) => newestFirst(a.snapshot, b.snapshot));
}
function describePolicy(p) {
    const parts = COUNT_RULES.flatMap((rule) => (p[rule] === undefined ? [] : [`keep-${rule} ${p[rule]}`]));
    if (p.within !== undefined)
        parts.push(`keep-within ${duration_formatDuration(p.within)}`);
    if (p.verified !== undefined)
        parts.push(`keep-verified ${p.verified}`);
    return parts.length > 0 ? parts.join(', ') : 'no retention policy';
}

;// CONCATENATED MODULE: ./src/modes/delete/deletion.ts



/**
 * Delete a snapshot image, then the Cinder snapshots Nova made for it (Glance does not know them,
 * so deleting the image alone leaves them billed). The image goes first: if it cannot be deleted,
 * its volume snapshots must stay for it to remain usable. Under dry run nothing is sent.
 */
async function deleteSnapshot(cloud, { image, volumeSnapshots: snapshots }, dryRun) {
    const label = log_t `${image.id} "${image.name ?? ''}"`;
    const kept = snapshots.filter((s) => s.keep).map((s) => ({ id: s.id, outcome: 'kept', reason: s.keep }));
    for (const s of kept)
        log_log.warning(log_t `Volume snapshot ${s.id} named by snapshot ${label} is left alone: ${s.reason}`);
    const doomed = snapshots.filter((s) => !s.keep).map((s) => s.id);
    if (dryRun) {
        log_log.info(log_t `Dry run: would delete snapshot ${label}${doomed.length ? log_t ` and volume snapshots ${doomed.join(', ')}` : ''}`);
        return { image, outcome: 'would-delete', volumeSnapshots: [...doomed.map((id) => ({ id, outcome: 'would-delete' })), ...kept] };
    }
    const outcome = await deleteImage(await cloud.images(), image);
    log_log.info(outcome === 'deleted' ? log_t `Deleted snapshot ${label}` : log_t `Snapshot ${label} was already gone`);
    const volumeSnapshots = [];
    if (doomed.length) {
        const volumes = await cloud.volumes();
        for (const id of doomed) {
            try {
                const result = await volumes.deleteSnapshot(id);
                log_log.info(result === 'deleted' ? log_t `Deleted volume snapshot ${id} of snapshot ${image.id}` : log_t `Volume snapshot ${id} of snapshot ${image.id} was already gone`);
                volumeSnapshots.push({ id, outcome: result });
            }
            catch (error) {
                log_log.warning(log_t `Could not delete volume snapshot ${id} of snapshot ${image.id}: ${error}. Delete it with: openstack volume snapshot delete ${id}`);
                volumeSnapshots.push({ id, outcome: 'failed', reason: error instanceof Error ? error.message : String(error) });
            }
        }
    }
    return { image, outcome, volumeSnapshots: [...volumeSnapshots, ...kept] };
}
/** Glance's DELETE, with its refusals in words: neither a protected image nor one in use goes away by trying again. */
async function deleteImage(images, image) {
    try {
        return await images.delete(image.id);
    }
    catch (error) {
        const label = `snapshot ${image.id}${image.name ? ` (${image.name})` : ''}`;
        if (errors_statusOf(error) === 403) {
            throw new outcome_StepError(`Glance refused to delete ${label}: it is protected (or this user may not delete it). Unprotect it first (openstack image set --unprotected ${image.id}) if it really should go`, { cause: error });
        }
        if (error instanceof errors_ConflictError) {
            throw new outcome_StepError(`Glance refused to delete ${label}: it is in use (for example an instance or volume was created from it and still exists). Delete or rebuild what uses it, then retry`, { cause: error });
        }
        throw error;
    }
}

;// CONCATENATED MODULE: ./src/modes/delete/guard.ts





/** The instance a delete or prune is narrowed to: its server, or only its ID once the server is deleted. */
async function resolveInstance(cloud, settings, doing) {
    if (!settings.instance)
        return {};
    try {
        const server = ofProject(await (await cloud.compute()).findServer(settings.instance), await cloud.projectId());
        return { server, id: server.id };
    }
    catch (error) {
        // The snapshots of a deleted server are still worth deleting: its ID still names them.
        if (error instanceof errors_NotFoundError && isUuid(settings.instance)) {
            log_log.info(log_t `Instance ${settings.instance} is not found; ${doing} the snapshots that name it`);
            return { id: settings.instance };
        }
        throw error;
    }
}
/** Why no run may delete this image, whatever the inputs say; undefined when it may. */
function refusal(image, projectId) {
    if (image.owner !== projectId)
        return `it belongs to project ${image.owner ?? '(none)'}, not to this one (${projectId})`;
    if (!snapshots_isInstanceSnapshot(image))
        return 'it is not an instance snapshot (no image_type=snapshot, no volume-backed block_device_mapping, not made by this action)';
    if (image.protected)
        return `it is protected (unprotect it first with: openstack image set --unprotected ${image.id}, if it really should go)`;
    return undefined;
}
/** The image is a snapshot of this instance (and of no other), by its properties or, volume-backed and unmarked, by its Cinder snapshots. */
function ofInstance(image, instanceId, snapshotsOfInstance) {
    const recorded = instancesOf(image);
    if (recorded.length)
        return recorded.every((id) => id === instanceId);
    const ids = image.volumeSnapshotIds;
    return ids.length > 0 && ids.every((id) => snapshotsOfInstance.has(id));
}
/**
 * Why a Cinder snapshot that an image names must stay when the image goes; undefined when Nova
 * made it for this image and nothing else needs it. A snapshot Cinder does not show is gone
 * already: its DELETE finds it missing.
 */
function whyKeep(id, snapshot, image, known) {
    if (!snapshot)
        return undefined;
    if (snapshot.projectId && snapshot.projectId !== known.projectId)
        return `it belongs to project ${snapshot.projectId}`;
    if (snapshot.name !== `snapshot for ${image.name}`)
        return `it is named "${snapshot.name ?? ''}", not "snapshot for ${image.name}": Nova did not make it for this image`;
    const volume = known.volumeById.get(snapshot.volumeId);
    if (volume?.serverIds.length && known.owner.length && !volume.serverIds.some((server) => known.owner.includes(server))) {
        return `it is a snapshot of volume ${volume.id}, attached to instance ${volume.serverIds.join(', ')}, not to the snapshot's instance`;
    }
    if (known.madeFrom.has(id))
        return `volume ${known.madeFrom.get(id).join(', ')} was created from it`;
    if (known.namedBy.has(id))
        return `snapshot ${known.namedBy.get(id).join(', ')} still names it`;
    return undefined;
}
const group = (pairs) => {
    const map = new Map();
    for (const [key, value] of pairs)
        map.set(key, [...(map.get(key) ?? []), value]);
    return map;
};
/**
 * What still uses the candidates, looked up once for the whole batch: the servers booted from an
 * image (Nova lists a project's servers with their image), and for volume-backed snapshots the
 * volumes made from their Cinder snapshots and the other images that name those snapshots.
 * Only reads: a dry run makes the same checks.
 */
async function plan(cloud, candidates, options = {}) {
    if (!candidates.length)
        return { planned: [], held: [] };
    const servers = [];
    for (const server of await (options.servers ?? listServers(cloud)))
        if (server.imageId)
            servers.push([server.imageId, `${server.name} (${server.id})`]);
    const bootedFrom = group(servers);
    const volumeBacked = candidates.some((image) => image.volumeSnapshotIds.length);
    // Without Cinder (not in this region's catalog) nothing can be checked, so no volume snapshot is deleted.
    const volumes = volumeBacked
        ? await cloud.volumes().catch((error) => {
            if (error instanceof errors_CatalogError)
                return error;
            throw error;
        })
        : undefined;
    const allVolumes = volumes && !(volumes instanceof errors_CatalogError) ? await volumes.volumes() : [];
    const madeFrom = group(allVolumes.flatMap((v) => (v.snapshotId ? [[v.snapshotId, v.id]] : [])));
    const volumeById = new Map(allVolumes.map((v) => [v.id, v]));
    const doomed = new Set(candidates.map((image) => image.id));
    const projectId = await cloud.projectId();
    const naming = [];
    if (volumeBacked) {
        for await (const other of (await cloud.images()).list({ owner: projectId })) {
            if (!doomed.has(other.id))
                naming.push(...other.volumeSnapshotIds.map((id) => [id, other.id]));
        }
    }
    const namedBy = group(naming);
    const planned = [];
    const held = [];
    for (const image of candidates) {
        const snapshotIds = image.volumeSnapshotIds;
        const uses = [
            ...(bootedFrom.get(image.id) ?? []).map((server) => `instance ${server} was booted from it`),
            ...snapshotIds.flatMap((id) => (madeFrom.get(id) ?? []).map((volume) => `volume ${volume} was created from its volume snapshot ${id}`)),
        ];
        if (uses.length && !options.allowInUse) {
            held.push({ image, reason: `in use: ${uses.join('; ')}` });
            continue;
        }
        const instances = snapshots_instancesOf(image);
        const owner = instances.length ? instances : options.instanceId ? [options.instanceId] : [];
        const volumeSnapshots = [];
        for (const id of snapshotIds) {
            if (!volumes || volumes instanceof errors_CatalogError) {
                volumeSnapshots.push({ id, keep: `Cinder cannot be reached: ${volumes?.message}` });
                continue;
            }
            const reason = whyKeep(id, await volumes.getSnapshot(id), image, { projectId, owner, volumeById, madeFrom, namedBy });
            volumeSnapshots.push({ id, ...(reason ? { keep: reason } : {}) });
        }
        planned.push({ image, volumeSnapshots });
    }
    return { planned, held };
}
/** Every server of the project: what the candidates are checked against (a server booted from one). */
async function listServers(cloud, signal) {
    const servers = [];
    const compute = await cloud.compute();
    signal?.throwIfAborted();
    for await (const server of compute.servers({}, signal))
        servers.push(server);
    return servers;
}

;// CONCATENATED MODULE: ./src/modes/prune/prune.ts










/**
 * The Glance queries whose union is the scope. Each is a server-side filter that can only
 * narrow: the owner is always this project, and only active images are listed (a snapshot
 * still being made belongs to a run in progress).
 */
async function scopeQueries(cloud, server, instanceId, options, exactName, copiedFrom) {
    const base = {
        owner: await cloud.projectId(),
        status: 'active',
        sort: 'created_at:desc',
        ...(exactName ? image_exactNameFilter(exactName) : {}),
    };
    const copies = copiedFrom ? { [constants_Property.CopiedFromRegion]: copiedFrom } : {};
    const queries = [
        { query: { ...base, [constants_Property.ManagedBy]: constants_MANAGED_BY, ...(instanceId ? { [constants_Property.InstanceId]: instanceId } : {}), ...copies } },
    ];
    // The copies of an instance's snapshots: only those this action made, and marked so.
    if (!options.includeUnmanaged || copiedFrom)
        return queries;
    // Nova tags image-backed snapshots with their instance ...
    queries.push({ query: { ...base, image_type: 'snapshot', ...(instanceId ? { instance_uuid: instanceId } : {}) } });
    // ... but a volume-backed one only with its block device mapping: it is the instance's when its
    // Cinder snapshots are of the instance's volumes.
    if (!instanceId)
        queries.push({ query: { ...base, bdm_v2: 'True' } });
    else if (server?.volumeIds.length) {
        const ofInstance = await (await cloud.volumes()).snapshotIdsOf(server.volumeIds);
        queries.push({ query: { ...base, bdm_v2: 'True' }, accept: (image) => image.volumeSnapshotIds.some((id) => ofInstance.has(id)) });
    }
    return queries;
}
/**
 * The image meets every filter of the query, checked here too: a cloud that ignored one must not
 * widen the scope. The listing kept the query's attributes and properties for it.
 */
function matchesQuery(image, query) {
    return Object.entries(query).every(([key, value]) => key === 'sort' || String(image.properties[key]) === value);
}
/**
 * The snapshots in scope by instance, for the policy to apply to each on its own: all of them when
 * the scope is one instance's, else by the instances each records (those that record none, such as
 * volume-backed snapshots taken by hand, are one group).
 */
function byInstance(images, instanceId) {
    const groups = new Map();
    for (const image of images) {
        const key = instanceId ?? snapshots_instancesOf(image).sort().join(' ');
        const snapshot = { id: image.id, name: image.name ?? '', createdAt: image.createdAt, protected: image.protected, verified: isVerified(image) };
        // Added in place: a copy per snapshot costs quadratic time and memory over thousands of one instance's.
        const group = groups.get(key);
        if (group)
            group.push(snapshot);
        else
            groups.set(key, [snapshot]);
    }
    return [...groups.values()];
}
/**
 * Apply the retention policy to the snapshots in scope and delete the rest (bounded concurrency;
 * the client holds the request-rate ceiling).
 */
async function prune_prune(cloud, settings) {
    const { retention: options, server, justCreated } = settings;
    const images = await cloud.images();
    const { copiesOf } = settings;
    const instance = server ? { server, id: server.id } : copiesOf ? { id: copiesOf.instanceId } : await resolveInstance(cloud, settings, 'pruning');
    const glob = settings.nameGlob;
    const exactName = glob && !hasWildcard(glob) ? glob : undefined;
    const matcher = glob ? glob_globToRegExp(glob) : undefined;
    const inScope = new Map();
    const backups = new Set();
    for (const { query, accept } of await scopeQueries(cloud, 'server' in instance ? instance.server : undefined, instance.id, options, exactName, copiesOf?.region)) {
        for await (const image of images.list(query, [...snapshots_MARKS, ...Object.keys(query)])) {
            if (!(matchesQuery(image, query) && (!accept || accept(image)) && image.name !== null && (!matcher || matcher.test(image.name))))
                continue;
            if (settings.withoutBackups && snapshots_beforeRestoreOf(image))
                backups.add(image.id);
            else
                inScope.set(image.id, image);
        }
    }
    if (backups.size)
        log_log.info(log_t `Left out of this prune: ${backups.size} snapshot(s) taken before a restore (${[...backups].join(', ')}); they are neither counted nor deleted`);
    const policy = describePolicy(options.policy);
    const result = { mode: 'prune', policy, dryRun: settings.dryRun, decisions: [], images: inScope, deletions: [], held: [], failures: [] };
    if (justCreated && !inScope.has(justCreated)) {
        log_log.warning(log_t `The new snapshot ${justCreated} is not among the snapshots listed for pruning; pruning is skipped so nothing is deleted in its place`);
        return { result, failure: new outcome_Refusal('the new snapshot was not listed') };
    }
    result.decisions = decideEach(byInstance(inScope.values(), instance.id), options.policy, new Date());
    const chosen = result.decisions.filter((d) => !d.keep).map((d) => inScope.get(d.snapshot.id));
    // The listing's filters can be fooled by anyone's properties: every image is checked again on its own.
    const projectId = await cloud.projectId();
    const refused = chosen.flatMap((image) => {
        const other = instance.id && snapshots_instancesOf(image).find((id) => id !== instance.id);
        const reason = other ? `it also records instance ${other}` : refusal(image, projectId);
        return reason ? [{ image, reason }] : [];
    });
    const refusedIds = new Set(refused.map((r) => r.image.id));
    const { planned, held } = await plan(cloud, chosen.filter((image) => !refusedIds.has(image.id)), { instanceId: instance.id });
    result.held = [...refused, ...held];
    for (const { image, reason } of result.held)
        log_log.info(log_t `Keeping ${image.id} "${image.name ?? ''}": ${reason}`);
    const alsoKept = result.held.length ? `; ${result.held.length} more that it would delete are kept (in use, or not deletable)` : '';
    log_log.info(log_t `${inScope.size} snapshot(s) in scope; policy ${policy} keeps ${result.decisions.length - chosen.length} and deletes ${planned.length}${alsoKept}`);
    if (planned.length > options.maxDeletes) {
        const why = `the policy would delete ${planned.length} snapshots, more than max-deletes (${options.maxDeletes}); nothing was deleted. Check the policy and scope (try dry-run: true), then raise max-deletes if it is right`;
        return { result, failure: new outcome_Refusal(why) };
    }
    const deleteEach = () => p_map_pMap(planned, async (item) => {
        try {
            result.deletions.push(await deleteSnapshot(cloud, item, settings.dryRun));
        }
        catch (error) {
            const failure = error instanceof outcome_StepError
                ? error
                : new outcome_StepError(`deleting snapshot ${item.image.id} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
            log_log.warning(log_t `${failure.message}`);
            result.failures.push({ image: item.image, failure });
        }
    }, { concurrency: options.concurrency });
    // A line or more per snapshot: folded in the log.
    if (planned.length)
        await log_log.group(log_t `${settings.dryRun ? 'Would delete' : 'Deleting'} ${planned.length} snapshot(s)`, deleteEach);
    if (settings.dryRun)
        log_log.notice(log_t `Dry run: ${planned.length} snapshot(s) would be deleted, ${result.decisions.length - planned.length} kept`, {
            title: 'openstack-snapshot-action',
        });
    if (!result.failures.length)
        return { result };
    return { result, failure: new outcome_StepError(`${result.failures.length} snapshot(s) could not be deleted; see the warnings above`) };
}

;// CONCATENATED MODULE: ./src/modes/restore/choose.ts








/** Every instance the image records is this server (an image with none is no one's). */
function ofServer(image, server) {
    const instances = instancesOf(image);
    return instances.length > 0 && instances.every((id) => id === server.id);
}
const label = (image) => `${image.id} "${image.name ?? ''}" (created ${isoSeconds(image.createdAt)})`;
/** The snapshot to restore, as the settings name it, and why it was chosen (logged). */
async function choose_chooseSnapshot(cloud, settings, server, doing = 'Restoring') {
    const images = await cloud.images();
    const { snapshot } = settings;
    const where = `of instance ${server.name} (${server.id}) in region ${settings.region}`;
    if ('imageId' in snapshot) {
        const image = await images.get(snapshot.imageId, MARKS);
        if (!image)
            throw new StepError(`${Input.SnapshotId}: there is no image ${snapshot.imageId} in region ${settings.region}`);
        log.info(t `${doing} snapshot ${label(image)}: given by ${Input.SnapshotId}`);
        return image;
    }
    const owner = await cloud.projectId();
    if ('name' in snapshot) {
        const named = (await images.listAll({ ...exactNameFilter(snapshot.name), owner }, MARKS)).filter((image) => image.name === snapshot.name);
        const matches = settings.allowOtherInstance ? named : named.filter((image) => ofServer(image, server));
        if (matches.length > 1)
            throw new StepError(`${matches.length} snapshots ${where} are named "${snapshot.name}": ${matches.map(label).join(', ')}. Set ${Input.SnapshotId} to the one to restore`);
        const [image] = matches;
        if (!image) {
            const others = named.length
                ? `; ${named.length} image(s) of that name are snapshots of other instances (${Input.AllowOtherInstance}: true restores one)`
                : '';
            throw new StepError(`No snapshot named "${snapshot.name}" ${where}${others}. Check ${Input.SnapshotName} (matched exactly), or give ${Input.SnapshotId}`);
        }
        log.info(t `${doing} snapshot ${label(image)}: named exactly so`);
        return image;
    }
    const matcher = snapshot.nameGlob ? globToRegExp(snapshot.nameGlob) : undefined;
    const globbed = snapshot.nameGlob ? ` whose name matches "${snapshot.nameGlob}"` : '';
    // Newest first: the first that passes every check is the one (the rest of the listing is never fetched).
    const query = { owner, status: 'active', sort: 'created_at:desc', [Property.ManagedBy]: MANAGED_BY, [Property.InstanceId]: server.id };
    // The server as it was before a roll-back: as the newest, it would roll forward onto the state rolled back from.
    const skipped = [];
    for await (const image of images.list(query, MARKS)) {
        if (!(isManaged(image) &&
            image.status === 'active' &&
            image.owner === owner &&
            ofServer(image, server) &&
            (!matcher || (image.name !== null && matcher.test(image.name)))))
            continue;
        if (beforeRestoreOf(image)) {
            skipped.push(image.id);
            continue;
        }
        if (skipped.length) {
            log.info(t `Skipped ${skipped.length} newer snapshot(s) taken before a restore (${Input.SnapshotBefore}): ${skipped.join(', ')}. They are the instance as it was before a roll-back, never chosen as the newest; give the ${Input.SnapshotId} or the exact ${Input.SnapshotName} of one to restore it`);
        }
        log.info(t `${doing} snapshot ${label(image)}: the newest active one ${where} made by this action${globbed}`);
        return image;
    }
    const backups = skipped.length
        ? `, other than ${skipped.length} taken before a restore (${skipped.join(', ')}), which only its ${Input.SnapshotId} or exact ${Input.SnapshotName} restores`
        : '';
    throw new StepError(`There is no active snapshot ${where} made by this action${globbed}${backups}: give ${Input.SnapshotId} or ${Input.SnapshotName}, or take one first with mode create`);
}
/** Why this image may not be restored onto this server; undefined when it may. Only reads. */
async function restoreRefusal(compute, image, server, projectId, allowOtherInstance) {
    if (image.status !== 'active')
        return `it is ${image.status}, not active`;
    if (image.owner !== projectId)
        return `it belongs to project ${image.owner ?? '(none)'}, not to this one (${projectId})`;
    if (!isInstanceSnapshot(image))
        return 'it is not an instance snapshot (no image_type=snapshot, not made by this action)';
    if (image.volumeSnapshotIds.length)
        return 'it is the snapshot of a volume-backed instance: its data is in Cinder snapshots and the image itself is empty, so Nova cannot rebuild an instance from it';
    if (!allowOtherInstance && !ofServer(image, server)) {
        return `it is a snapshot of ${instancesOf(image).join(' and ') || 'no recorded instance'}, not of instance ${server.name} (${server.id}); set ${Input.AllowOtherInstance}: true to restore it all the same`;
    }
    if (!server.flavorId)
        return undefined;
    // A flavor deleted since the server was made cannot be read: Nova makes the same check itself.
    const disk = await compute.flavorDiskGb(server.flavorId).catch((error) => {
        if (statusOf(error) === 404)
            return 0;
        throw error;
    });
    const needs = Math.max(image.minDisk, Math.ceil((image.size ?? 0) / 1024 ** 3));
    if (disk > 0 && needs > disk)
        return `its disk needs ${needs} GiB, more than the ${disk} GiB root disk of the instance's flavor ${server.flavorId}`;
    return undefined;
}

;// CONCATENATED MODULE: ./src/modes/verify/throwaway.ts







/** Cinder's states of a volume still attached or on its way out: waited for before the delete. */
const BUSY_VOLUME = new Set(['in-use', 'attaching', 'detaching', 'reserved', 'creating', 'downloading', 'deleting', 'maintenance']);
/** The marks of a throwaway: the action's, the snapshot it boots, the instance it verifies, the run that made it. */
function throwaway_throwawayMarks(imageId, instanceId, runId) {
    return {
        [Property.ManagedBy]: MANAGED_BY,
        [Property.VerifyRequest]: randomUUID(),
        [Property.VerifyOf]: imageId,
        [Property.VerifyInstance]: instanceId,
        ...(runId ? { [Property.VerifyRun]: runId.slice(0, 255) } : {}),
    };
}
const throwaway_throwawayName = (imageId) => `${VERIFY_PREFIX}${imageId}`;
/** Cinder, where the region has it (a region without it has no volume to leave behind). */
async function throwaway_volumesOf(cloud) {
    try {
        return await cloud.volumes();
    }
    catch (error) {
        if (error instanceof CatalogError)
            return undefined;
        throw error;
    }
}
/** The volumes attached to the throwaway, tagged as the action's the first time they are seen (a killed run's are then found by the next). */
async function throwaway_noteVolumes(volumes, throwaway, server) {
    for (const id of server.volumeIds) {
        if (throwaway.volumeIds.has(id) || !volumes)
            continue;
        await volumes.tagVolume(id, throwaway.marks);
        throwaway.volumeIds.add(id);
        log.info(t `Volume ${id} was made for throwaway server ${throwaway.id}: it is deleted with it`);
    }
}
/**
 * Delete the throwaway server and wait until Nova no longer has it, then its volumes (once Cinder
 * has them detached), and wait until they are gone. Returns what is left, if anything, in words with the commands to remove it.
 */
async function throwaway_removeThrowaway(compute, volumes, throwaway, deadline) {
    const left = [];
    try {
        // Its volumes as they are now, tagged before the server goes (a run killed after the delete leaves them findable).
        const now = await compute.getServer(throwaway.id);
        if (now)
            await throwaway_noteVolumes(volumes, throwaway, now);
        if (now && (await compute.deleteServer(throwaway.id)) === 'deleted')
            log.info(t `Deleting throwaway server ${throwaway.id}`);
        const gone = await poll(async () => {
            const look = await deadline.look((signal) => compute.getServer(throwaway.id, signal));
            return { done: look !== CUT_SHORT && (!look || look.status === 'DELETED' || look.status === 'SOFT_DELETED'), value: undefined };
        }, deadline);
        if (!gone.done)
            left.push(`server ${throwaway.id} (openstack server delete --wait ${throwaway.id})`);
        else
            log.info(t `Throwaway server ${throwaway.id} is gone`);
    }
    catch (error) {
        left.push(`server ${throwaway.id} (${error instanceof Error ? error.message : String(error)}; openstack server delete --wait ${throwaway.id})`);
    }
    if (volumes)
        for (const id of throwaway.volumeIds)
            if (!(await removeVolume(volumes, id, deadline)))
                left.push(`volume ${id} (openstack volume delete ${id})`);
    return left.length ? `left behind: ${left.join(', ')}` : undefined;
}
/** Delete a volume once Cinder lets it (detached), and wait until it is gone: false if it is still there at the deadline. */
async function removeVolume(volumes, id, deadline) {
    let asked = false;
    const outcome = await poll(async () => {
        const look = await deadline.look((signal) => volumes.getVolume(id, signal));
        if (look === CUT_SHORT)
            return { done: false, value: undefined };
        if (!look)
            return { done: true, value: undefined };
        if (!asked && !BUSY_VOLUME.has(look.status ?? '') && !look.serverIds.length) {
            try {
                await volumes.deleteVolume(id);
                asked = true;
                log.info(t `Deleting volume ${id}`);
            }
            catch (error) {
                // 400: Cinder still holds it (an attachment on its way out): looked at again.
                if (statusOf(error) !== 400)
                    throw error;
            }
        }
        return { done: false, value: undefined };
    }, deadline).catch((error) => {
        log.warning(t `Volume ${id}: ${error}`);
        return { done: false };
    });
    if (outcome.done)
        log.info(t `Volume ${id} is gone`);
    return outcome.done;
}
/**
 * What a killed verify of this instance left: throwaway servers and their volumes that carry the
 * action's marks for this instance, made by this same workflow run (an earlier attempt or step,
 * which ended before this one began) or older than `staleMs` (its verify has timed out long since).
 * A throwaway of another instance, or a younger one of another run, is never touched.
 */
async function throwaway_sweep(compute, volumes, instance, runId, staleMs, dryRun, deadline) {
    const now = Date.now();
    const ours = (marks, createdAt) => marks[Property.ManagedBy] === MANAGED_BY &&
        marks[Property.VerifyInstance] === instance.id &&
        typeof marks[Property.VerifyOf] === 'string' &&
        ((runId !== undefined && marks[Property.VerifyRun] === runId) || (createdAt !== undefined && now - createdAt.getTime() > staleMs));
    const swept = [];
    const servers = [];
    for await (const server of compute.servers({ name: VERIFY_PREFIX.replace(/-$/, '') }))
        if (server.name.startsWith(VERIFY_PREFIX))
            servers.push(server);
    const leftovers = servers.filter((server) => ours(server.metadata, server.createdAt));
    const strayVolumes = volumes
        ? (await volumes.volumes()).filter((volume) => !volume.serverIds.length && ours(volume.metadata ?? {}, volume.createdAt)).map((volume) => volume.id)
        : [];
    if (!leftovers.length && !strayVolumes.length)
        return swept;
    const names = [...leftovers.map((s) => `server ${s.id}`), ...strayVolumes.map((id) => `volume ${id}`)].join(', ');
    if (dryRun) {
        log.info(t `Dry run: would remove what an earlier verify of instance ${instance.name} left: ${names}`);
        return swept;
    }
    log.info(t `Removing what an earlier verify of instance ${instance.name} left: ${names}`);
    for (const server of leftovers) {
        const throwaway = { id: server.id, volumeIds: new Set(), marks: server.metadata };
        const left = await throwaway_removeThrowaway(compute, volumes, throwaway, deadline);
        if (left)
            throw new StepError(`An earlier verify's throwaway server ${server.id} could not be removed (${formatDuration(deadline.budgetMs)}): ${left}`);
        swept.push(server.id, ...throwaway.volumeIds);
    }
    for (const id of volumes ? strayVolumes : []) {
        if (swept.includes(id) || !volumes)
            continue;
        if (!(await removeVolume(volumes, id, deadline)))
            throw new StepError(`An earlier verify's volume ${id} could not be removed: openstack volume delete ${id}`);
        swept.push(id);
    }
    return swept;
}

;// CONCATENATED MODULE: ./src/modes/verify/verify.ts











/** The time the deletion of the throwaway and its volumes has, whatever the timeout (SIGINT/SIGTERM: until shortly before SIGKILL). */
const CLEANUP_MS = (/* unused pure expression or super */ null && (5 * 60_000));
const PASSED = 'passed';
/** Every server of the selection: its snapshot (the one named, or its newest) booted on a throwaway server, then deleted. */
async function verify(cloud, settings, cancel = new Cancellation()) {
    const outcome = await forSelection(cloud, settings, 'verify', async (server) => {
        try {
            return await verify_verifyImage(cloud, settings, server, (await chooseSnapshot(cloud, settings, server, 'Verifying')).id, cancel);
        }
        catch (error) {
            return { failure: asFailure(error, settings) };
        }
    }, cancel);
    return cancel.cancelled && !outcome.failure ? { ...outcome, failure: cancel.error('while the snapshots were verified') } : outcome;
}
/** The flavor the throwaway boots with: verify-flavor, else the instance's; refused if the snapshot needs more. */
async function flavorFor(compute, plan, server, image, volumeBacked) {
    const ref = plan.flavor ?? server.flavorId;
    const whose = plan.flavor ? `${Input.VerifyFlavor}` : `the flavor of instance ${server.name}`;
    if (!ref)
        throw new StepError(`Instance ${server.name} (${server.id}) shows no flavor: give ${Input.VerifyFlavor}`);
    let flavor;
    try {
        flavor = await compute.findFlavor(ref);
    }
    catch (error) {
        if (error instanceof NotFoundError)
            throw new StepError(plan.flavor
                ? `${Input.VerifyFlavor}: there is no flavor named or with ID "${ref}" in region ${plan.region} (openstack flavor list); nothing was booted`
                : `The flavor ${ref} of instance ${server.name} no longer exists: give ${Input.VerifyFlavor}; nothing was booted`);
        if (error instanceof AmbiguousError)
            throw new StepError(`${Input.VerifyFlavor}: ${error.ids.length} flavors are named "${ref}" (${error.ids.join(', ')}): give the ID of one; nothing was booted`);
        throw error;
    }
    const label = `${whose}, ${flavor.name} (${flavor.id})`;
    // A volume-backed snapshot boots from volumes Nova makes of its Cinder snapshots: the flavor's disk does not hold it.
    const needs = Math.max(image.minDisk, Math.ceil((image.size ?? 0) / 1024 ** 3));
    if (!volumeBacked && flavor.disk > 0 && needs > flavor.disk)
        throw new StepError(`Snapshot ${image.id} needs a ${needs} GiB root disk (its min_disk and size), more than the ${flavor.disk} GiB of ${label}: give ${Input.VerifyFlavor} a larger flavor; nothing was booted`);
    if (image.minRam > flavor.ram)
        throw new StepError(`Snapshot ${image.id} needs ${image.minRam} MiB of memory (its min_ram), more than the ${flavor.ram} MiB of ${label}: give ${Input.VerifyFlavor} a larger flavor; nothing was booted`);
    return flavor;
}
/** Nova's refusal of the create, in words that say what to change (nothing was made). */
function bootRefused(error, imageId) {
    const status = statusOf(error);
    // The ApiError's message names the request first: Nova's own words are what follows.
    const said = (error instanceof Error ? error.message : String(error)).replace(/^.*? answered \d+: /, '');
    const hint = status === 403 && /quota/i.test(said)
        ? `the project's quota is reached (instances, cores, RAM or volumes): free some, or ask for more`
        : /network/i.test(said)
            ? `check ${Input.VerifyNetwork}`
            : /flavor/i.test(said)
                ? `check ${Input.VerifyFlavor}`
                : `see Nova's answer`;
    return new StepError(`Nova refused to boot a throwaway server from snapshot ${imageId} (${status}: ${said}): ${hint}. Nothing was made`, { cause: error });
}
/** Poll Nova until the throwaway is ACTIVE (or ERROR, or gone), noting the volumes it gets. */
async function untilBooted(compute, volumes, throwaway, imageId, deadline) {
    const started = Date.now();
    let seen;
    let lastState = '';
    const outcome = await poll(async () => {
        const look = await deadline.look((signal) => compute.getServer(throwaway.id, signal));
        if (look === CUT_SHORT)
            return { done: false, value: seen };
        if (!look)
            throw new StepError(`The throwaway server ${throwaway.id} of snapshot ${imageId} was deleted while it booted`);
        seen = look;
        await noteVolumes(volumes, throwaway, look);
        const state = `${look.status}${look.taskState ? ` (${look.taskState})` : ''}`;
        if (state !== lastState)
            log.info(t `[${formatDuration(Date.now() - started)}] throwaway server ${throwaway.id}: ${state}`);
        lastState = state;
        return { done: look.status === 'ACTIVE' || look.status === 'ERROR', value: look };
    }, deadline);
    if (deadline.cut?.aborted)
        return;
    if (!outcome.done)
        throw new StepError(`Timed out (timeout ${formatDuration(deadline.budgetMs)}) waiting for the throwaway server of snapshot ${imageId} to boot: it is still ${seen?.status ?? 'unseen'}${seen?.taskState ? ` with task_state ${seen.taskState}` : ''}`);
    if (outcome.value?.status === 'ERROR')
        throw new StepError(`Snapshot ${imageId} did not boot: Nova put its throwaway server in ERROR${outcome.value.fault ? `: ${outcome.value.fault.replace(/\.$/, '')}` : ''}`);
}
/** Poll the console log until the pattern appears in it: false at the deadline; a failure where the cloud serves no console log. */
async function untilConsole(compute, id, pattern, deadline) {
    const outcome = await poll(async () => {
        const look = await deadline.look((signal) => compute.consoleOutput(id, 200, signal));
        if (look === CUT_SHORT)
            return { done: false, value: false };
        if ('refused' in look) {
            if (look.refused === 409)
                return { done: false, value: false };
            throw new StepError(`${Input.VerifyConsole}: this cloud serves no console log (os-getConsoleOutput answered ${look.refused}), so the pattern cannot be checked; leave ${Input.VerifyConsole} out here`);
        }
        return { done: pattern.test(look.output), value: true };
    }, deadline);
    return outcome.done;
}
/** The snapshot's verify as properties: how it went and when, and when it booted (only if it did). */
async function record(cloud, image, passed) {
    const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const properties = {
        [Property.VerifyResult]: passed ? PASSED : 'failed',
        [Property.VerifyCheckedAt]: at,
        ...(passed ? { [Property.VerifiedAt]: at } : {}),
    };
    await (await cloud.images()).setProperties(image.id, properties);
    log.info(t `Snapshot ${image.id}: ${Property.VerifyResult}=${properties[Property.VerifyResult]}${passed ? t `, ${Property.VerifiedAt}=${at}` : ''}`);
}
/**
 * Boot a throwaway server from the snapshot (no network unless verify-network names one, no key,
 * no user data), wait until it is ACTIVE (and its console shows verify-console), then delete it
 * and the volumes Nova made for it and wait until they are gone: on success, failure, timeout and
 * cancel. What an earlier, killed verify of the instance left is removed first.
 */
async function verify_verifyImage(cloud, plan, server, imageId, cancel = new Cancellation()) {
    const deadline = Deadline.after(plan.timeoutMs, cancel.signal);
    const compute = await cloud.compute();
    const images = await cloud.images();
    const projectId = await cloud.projectId();
    const image = await images.get(imageId, MARKS);
    if (!image)
        throw new StepError(`There is no snapshot ${imageId} in region ${plan.region}: nothing to verify`);
    const refuse = (why) => new StepError(`Snapshot ${image.id} "${image.name ?? ''}" is not verified: ${why}; nothing was booted`);
    if (image.status !== 'active')
        throw refuse(`it is ${image.status}, not active`);
    if (image.owner !== projectId)
        throw refuse(`it belongs to project ${image.owner ?? '(none)'}, not to this one (${projectId})`);
    if (!isInstanceSnapshot(image))
        throw refuse('it is not an instance snapshot (no image_type=snapshot, not made by this action)');
    const volumeBacked = image.volumeSnapshotIds.length > 0 || image.bdmV2;
    const flavor = await flavorFor(compute, plan, server, image, volumeBacked);
    const volumes = await volumesOf(cloud);
    const result = {
        mode: 'verify',
        dryRun: plan.dryRun,
        server,
        image: { id: image.id, name: image.name, volumeBacked },
        flavor,
        result: 'dry-run',
        volumeIds: [],
        swept: [],
        durationMs: 0,
    };
    result.swept = await sweep(compute, volumes, server, plan.provenance.runId, plan.timeoutMs + CLEANUP_MS, plan.dryRun, Deadline.after(CLEANUP_MS, cancel.signal));
    const network = plan.networkId ? `network ${plan.networkId}` : 'no network';
    if (plan.dryRun) {
        log.info(t `Dry run: would boot a throwaway server from snapshot ${image.id}${volumeBacked ? ' (volume-backed)' : ''} with flavor ${flavor.name} (${flavor.id}) and ${network}, wait until it is ACTIVE${plan.console ? t `, look for ${plan.console.source} in its console log` : ''}, then delete it`);
        return { result };
    }
    cancel.check(t `snapshot ${image.id} was booted`);
    const name = throwawayName(image.id);
    const marks = throwawayMarks(image.id, server.id, plan.provenance.runId);
    const done = cancel.owe(t `Throwaway server ${name} of snapshot ${image.id} may be left running: the next verify of instance ${server.name} removes it, or: openstack server delete ${name}`);
    const started = Date.now();
    let throwaway;
    try {
        const id = await compute.createServer({
            name,
            imageRef: image.id,
            flavorRef: flavor.id,
            metadata: marks,
            ...(plan.networkId ? { networkId: plan.networkId } : {}),
        });
        throwaway = { id, volumeIds: new Set(), marks };
    }
    catch (error) {
        if (refusedBeforeActing(error)) {
            done();
            throw bootRefused(error, image.id);
        }
        // No clear answer: Nova may have made it. Found by this boot's own mark, it is removed as any other.
        const found = await findThrowaway(compute, name, marks);
        if (!found) {
            done();
            throw asFailure(error, plan);
        }
        throwaway = { id: found.id, volumeIds: new Set(), marks };
    }
    result.throwawayId = throwaway.id;
    log.info(t `Booting throwaway server ${throwaway.id} "${name}" from snapshot ${image.id} (flavor ${flavor.name}, ${network})`);
    let failure;
    try {
        await untilBooted(compute, volumes, throwaway, image.id, deadline);
        if (!cancel.cancelled) {
            result.bootMs = Date.now() - started;
            log.info(t `Snapshot ${image.id} booted: ACTIVE after ${formatDuration(result.bootMs)}`);
            if (plan.console) {
                result.consoleMatched = await untilConsole(compute, throwaway.id, plan.console, deadline);
                if (result.consoleMatched)
                    log.info(t `The console log of throwaway server ${throwaway.id} shows ${plan.console.source}`);
                else if (!cancel.cancelled)
                    failure = new StepError(`Snapshot ${image.id} booted, but ${plan.console.source} did not appear in the console log of its throwaway server within the ${Input.Timeout} of ${formatDuration(deadline.budgetMs)}`);
            }
        }
    }
    catch (error) {
        failure = asFailure(error, plan);
    }
    // The throwaway goes, whatever happened: after a cancel, within what the runner leaves before SIGKILL.
    const left = await removeThrowaway(compute, volumes, throwaway, cancel.cancelled ? cancel.grace() : Deadline.after(CLEANUP_MS));
    result.volumeIds = [...throwaway.volumeIds];
    result.durationMs = Date.now() - started;
    if (!left)
        done();
    const leftText = left ? ` The throwaway was not all removed: ${left}; the next verify of instance ${server.name} removes it` : '';
    if (cancel.cancelled) {
        result.result = 'failed';
        return { result, failure: cancel.error(`while snapshot ${image.id} was verified: ${left ? leftText.trim() : 'its throwaway server was removed'}`) };
    }
    // A verdict on the snapshot: it booted (and showed the pattern) or not. A refusal of the cloud's is none.
    const passed = !failure;
    result.result = passed ? PASSED : 'failed';
    try {
        await record(cloud, image, passed);
    }
    catch (error) {
        const why = `the result could not be written on snapshot ${image.id}: ${asFailure(error, plan).message}`;
        failure ??= new StepError(`Snapshot ${image.id} booted, but ${why}`);
        if (failure.message.indexOf(why) < 0)
            log.warning(t `${why}`);
    }
    if (left)
        return { result, failure: new StepError(`${failure ? failure.message : `Snapshot ${image.id} booted.`}${leftText}`) };
    return failure ? { result, failure } : { result };
}
/** The throwaway this boot made, by its own mark, when Nova's answer to the create was lost. */
async function findThrowaway(compute, name, marks) {
    for await (const server of compute.servers({ name }))
        if (server.metadata[Property.VerifyRequest] === marks[Property.VerifyRequest])
            return server;
    return undefined;
}

;// CONCATENATED MODULE: external "node:stream/promises"
const external_node_stream_promises_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:stream/promises");
;// CONCATENATED MODULE: ./src/openstack/image-data.ts




/** Bytes held between the download and the upload at most (besides the sockets' own buffers). */
const CHUNK_BUFFER = (/* unused pure expression or super */ null && (4 * 1024 ** 2));
/**
 * Stream one image's data from a Glance to another (`GET …/file` into `PUT …/file`): never on
 * disk, never whole in memory (each side waits for the other: backpressure). Resolves with the
 * bytes moved once the target answered; a failure is ImageDataError, naming the side that failed.
 */
async function image_data_transferImageData(from, sourceId, to, targetId, { size, onBytes, signal }) {
    let bytes = 0;
    let failed;
    const mark = (stage) => (error) => {
        failed ??= { stage, error };
    };
    const download = from.download(sourceId, signal).on('error', mark('download'));
    const upload = to.upload(targetId, size, signal).on('error', mark('upload'));
    // got's streams hold no buffer of their own (highWaterMark 0): this one keeps up to CHUNK_BUFFER
    // between the sides, so neither waits on every chunk of the other.
    const meter = new Transform({
        highWaterMark: CHUNK_BUFFER,
        transform(chunk, _encoding, done) {
            bytes += chunk.length;
            onBytes?.(bytes);
            done(null, chunk);
        },
    });
    // Glance's answer to the PUT (204, no body) is read to its end.
    const answer = new Writable({ write: (_chunk, _encoding, done) => done() });
    try {
        await pipeline(download, meter, upload, answer, { signal });
    }
    catch (error) {
        const first = failed ?? { stage: 'upload', error };
        const status = statusOf(first.error);
        const side = first.stage === 'download' ? `reading image ${sourceId}` : `writing image ${targetId}`;
        const why = first.error instanceof ApiError ? first.error.message : first.error instanceof Error ? first.error.message : String(first.error);
        throw new ImageDataError(`${side} failed after ${bytes} bytes: ${why}`, first.stage, status, { cause: first.error });
    }
    if (size !== null && bytes !== size) {
        throw new ImageDataError(`reading image ${sourceId} ended after ${bytes} bytes, not the ${size} Glance gives as its size`, 'download', undefined);
    }
    return bytes;
}

;// CONCATENATED MODULE: ./src/modes/copy/copy-image.ts









/** Glance's own attributes, and what Nova writes that only means something in the snapshot's region: not carried to a copy. */
const NOT_COPIED = new Set([
    'id',
    'name',
    'status',
    'visibility',
    'protected',
    'checksum',
    'os_hash_algo',
    'os_hash_value',
    'size',
    'virtual_size',
    'owner',
    'created_at',
    'updated_at',
    'tags',
    'self',
    'file',
    'schema',
    'direct_url',
    'locations',
    'os_hidden',
    'stores',
    'disk_format',
    'container_format',
    'min_disk',
    'min_ram',
    'base_image_ref',
    'image_location',
    'image_state',
    'owner_id',
    'user_id',
    'owner_project_name',
    'owner_user_name',
    'boot_roles',
    'block_device_mapping',
    'bdm_v2',
    'root_device_name',
    // A re-run finds the snapshot its first attempt took by these, in the source region only.
    'github_run_id',
    constants_Property.Job,
    constants_Property.Step,
]);
/** The new image's fields: the source's formats, sizes and properties (OS, hardware, provenance), and where it was copied from. */
function copyFields(source, sourceRegion) {
    const properties = {};
    for (const [key, value] of Object.entries(source.properties)) {
        // Glance reserves os_glance_* for itself and refuses them in a create.
        if (NOT_COPIED.has(key) || key.startsWith('os_glance') || typeof value !== 'string')
            continue;
        properties[key] = value;
    }
    const p = source.properties;
    const tags = Array.isArray(p.tags) ? p.tags.filter((tag) => typeof tag === 'string') : [];
    return {
        ...properties,
        name: source.name ?? source.id,
        disk_format: p.disk_format,
        container_format: p.container_format,
        min_disk: typeof p.min_disk === 'number' ? p.min_disk : 0,
        min_ram: typeof p.min_ram === 'number' ? p.min_ram : 0,
        visibility: 'private',
        ...(tags.length ? { tags } : {}),
        [Property.CopiedFromRegion]: sourceRegion,
        [Property.CopiedFromImage]: source.id,
    };
}
/** The hash Glance computed of the image's data: os_hash_value (multihash), else the md5 checksum. */
function hashOf(image) {
    const { os_hash_algo: algo, os_hash_value: value, checksum } = image.properties;
    if (typeof value === 'string' && value)
        return { kind: typeof algo === 'string' ? algo : 'os_hash_value', value };
    if (typeof checksum === 'string' && checksum)
        return { kind: 'md5', value: checksum };
    return undefined;
}
/** Why this image cannot be copied (nothing sent yet); undefined when it can. */
function copy_image_copyRefusal(image, projectId) {
    if (image.bdmV2 || image.volumeSnapshotIds.length)
        return `it is the snapshot of a volume-backed instance: it holds no image data (the disks are Cinder snapshots, which stay in their region), so there is nothing to copy. Copy the volumes with Cinder backups instead`;
    if (image.status !== 'active')
        return `it is ${image.status}, not active`;
    if (image.owner !== projectId)
        return `it belongs to project ${image.owner ?? '(none)'}, not to this one (${projectId})`;
    if (!image.size)
        return 'it has no data (size 0)';
    if (!hashOf(image))
        return 'Glance gives no hash of its data (os_hash_value or checksum), so a copy could not be checked';
    return undefined;
}
const MB = 1_000_000;
const mib = (bytes) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
/** How often a copy under way says how far it is. */
const PROGRESS_MS = 10_000;
/** The snapshot's copy already in the region, active and with the same data: a second run copies nothing. */
async function existingCopy(target, source, sourceRegion, projectId) {
    const query = { owner: projectId, status: 'active', [Property.CopiedFromImage]: source.id, [Property.CopiedFromRegion]: sourceRegion };
    const sourceHash = hashOf(source);
    for await (const image of target.list(query, [Property.CopiedFromImage, Property.CopiedFromRegion, 'os_hash_value', 'os_hash_algo', 'checksum'])) {
        if (image.properties[Property.CopiedFromImage] !== source.id || image.properties[Property.CopiedFromRegion] !== sourceRegion)
            continue;
        if (image.status === 'active' && image.owner === projectId && hashOf(image)?.value === sourceHash?.value)
            return image;
    }
    return undefined;
}
/** After the upload Glance marks the image active (at once, or within a minute). */
async function untilStored(target, id) {
    let image;
    for (let look = 0; look < 60; look++) {
        image = await target.getAll(id);
        if (!image || image.status !== 'saving')
            return image;
        await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    return image;
}
/**
 * Delete the copy a failed attempt left (queued, saving or with the wrong data), and make sure it
 * is gone: the words to add to the failure.
 */
async function removeCopy(target, id, region, made) {
    for (let attempt = 0; attempt < 5; attempt++) {
        try {
            const deleted = await target.delete(id);
            // Not made (the create was refused or never reached Glance): nothing to delete.
            if (deleted === 'missing' && !made && !(await target.getAll(id)))
                return `no image was left in region ${region}`;
            if (!(await target.getAll(id)))
                return `the partial copy ${id} in region ${region} was deleted`;
        }
        catch (error) {
            log.debug(`deleting ${id} in ${region}: ${error instanceof Error ? error.message : String(error)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
    }
    return `the partial copy ${id} in region ${region} could NOT be deleted: delete it with: openstack --os-region-name ${region} image delete ${id}`;
}
/** What went wrong, said of the side that failed. */
async function whyFailed(error, source, image, region, sourceRegion) {
    if (error instanceof ImageDataError && error.stage === 'download') {
        const now = await source.getAll(image.id).catch(() => image);
        if (!now || now.status !== 'active')
            return `snapshot ${image.id} was ${now ? `made ${now.status}` : 'deleted'} in region ${sourceRegion} while it was being copied (${error.message})`;
        return `reading snapshot ${image.id} from region ${sourceRegion}'s Glance failed: ${error.message}`;
    }
    if (error instanceof ImageDataError) {
        if (error.status === 413)
            return `region ${region}'s Glance refused the data as too large (413: its image_size_cap or the project's storage quota): ${error.message}`;
        return `region ${region}'s Glance failed while receiving the data${error.status ? ` (${error.status})` : ''}: ${error.message}`;
    }
    if (error instanceof ApiError && statusOf(error) === 413)
        return `region ${region}'s Glance refused the image (413: the project's image quota): ${error.message}`;
    return explain(error, { region });
}
/**
 * Copy one active snapshot to one region: streamed from the source Glance into an image created
 * with an ID chosen here (a lost answer finds it again rather than making a second), checked by
 * its hash, then the region's copies of the instance pruned (keep-*). A copy that fails leaves
 * nothing behind in the region.
 */
async function copy_image_copyToRegion({ cloud, source, region, plan, dryRun, cancel }) {
    const sourceRegion = cloud.region;
    const instanceId = typeof source.properties[Property.InstanceId] === 'string' ? String(source.properties[Property.InstanceId]) : null;
    const record = {
        region,
        sourceRegion,
        sourceId: source.id,
        sourceName: source.name,
        instanceId,
        imageId: '',
        status: 'planned',
        bytes: 0,
        durationMs: 0,
        method: 'none',
    };
    const targetCloud = cloud.inRegion(region);
    const target = await targetCloud.images();
    const images = await cloud.images();
    const projectId = await cloud.projectId();
    const existing = source.id ? await existingCopy(target, source, sourceRegion, projectId) : undefined;
    if (existing) {
        log.info(t `Snapshot ${source.id} is already in region ${region}: copy ${existing.id}, active, with the same data; nothing copied`);
        Object.assign(record, { imageId: existing.id, status: 'active', method: 'existing' });
        return withPrune(record, await pruneCopies(targetCloud, plan, record, source, dryRun));
    }
    if (dryRun) {
        const what = source.id ? t `snapshot ${source.id} "${source.name ?? ''}" (${mib(source.size ?? 0)})` : t `the new snapshot "${source.name ?? ''}"`;
        log.info(t `Dry run: would copy ${what} to region ${region}, streamed through the runner`);
        return withPrune(record, await pruneCopies(targetCloud, plan, record, source, dryRun));
    }
    cancel.check(t `snapshot ${source.id} was copied to region ${region}`);
    const id = randomUUID();
    const started = Date.now();
    const timeout = AbortSignal.timeout(plan.timeoutMs);
    const signal = AbortSignal.any([cancel.signal, timeout]);
    // From the create on, a process killed before the end names what it leaves.
    const settled = cancel.owe(t `Copy ${id} of snapshot ${source.id} in region ${region} may be left unfinished: delete it with: openstack --os-region-name ${region} image delete ${id}`);
    let timer;
    try {
        const { reused } = await target.createWithId(id, copyFields(source, sourceRegion), signal);
        record.imageId = id;
        log.info(t `Copying snapshot ${source.id} "${source.name ?? ''}" (${mib(source.size ?? 0)}) to region ${region} as ${id}${reused ? ' (found again after a lost answer)' : ''}`);
        let moved = 0;
        timer = setInterval(() => {
            const seconds = (Date.now() - started) / 1000;
            const rate = moved / seconds;
            const size = source.size ?? 0;
            const left = rate > 0 && size > moved ? `, about ${formatDuration(((size - moved) / rate) * 1000)} left` : '';
            log.info(t `Copy to ${region}: ${mib(moved)} of ${mib(size)} (${size ? Math.floor((moved / size) * 100) : 0} %), ${(rate / MB).toFixed(1)} MB/s${left}`);
        }, PROGRESS_MS).unref();
        record.bytes = await transferImageData(images, source.id, target, id, {
            size: source.size,
            signal,
            onBytes: (bytes) => {
                moved = bytes;
            },
        });
        clearInterval(timer);
        const stored = await untilStored(target, id);
        const want = hashOf(source);
        const got = stored && hashOf(stored);
        if (!stored || stored.status !== 'active')
            throw new StepError(`region ${region}'s Glance did not make copy ${id} active after the upload: it is ${stored?.status ?? 'gone'}`);
        if (!want || !got || got.value !== want.value)
            throw new StepError(`the copy's data differs from the snapshot's: region ${region}'s Glance has ${got ? `${got.kind} ${got.value}` : 'no hash'}, region ${sourceRegion}'s ${want ? `${want.kind} ${want.value}` : 'none'}`);
        record.durationMs = Date.now() - started;
        Object.assign(record, { status: 'active', method: 'stream' });
        const seconds = record.durationMs / 1000;
        log.info(t `Copied snapshot ${source.id} to region ${region}: ${id}, active, ${mib(record.bytes)} in ${seconds.toFixed(1)} s (${(record.bytes / MB / Math.max(seconds, 0.001)).toFixed(1)} MB/s), ${want.kind} checked`);
    }
    catch (error) {
        clearInterval(timer);
        const why = cancel.cancelled
            ? cancel.error(t `while snapshot ${source.id} was copied to region ${region}`).message
            : timeout.aborted
                ? `Timed out (${Input.Timeout} ${formatDuration(plan.timeoutMs)}) copying snapshot ${source.id} to region ${region}`
                : error instanceof StepError
                    ? error.message
                    : await whyFailed(error, images, source, region, sourceRegion);
        // The ID was chosen before the create: whatever answer was lost, the image is deleted by it.
        const removed = await removeCopy(target, id, region, record.imageId !== '');
        settled();
        const message = `The copy of snapshot ${source.id} to region ${region} failed: ${why.replace(/\.$/, '')}; ${removed}`;
        Object.assign(record, { status: 'failed', imageId: '', durationMs: Date.now() - started, error: message });
        return { result: record, failure: new StepError(message, { cause: error }) };
    }
    settled();
    return withPrune(record, await pruneCopies(targetCloud, plan, record, source, dryRun));
}
function withPrune(record, pruned) {
    if (!pruned)
        return { result: record };
    record.prune = pruned.result;
    return { result: record, ...(pruned.failure ? { failure: pruned.failure } : {}) };
}
/**
 * keep-*: the region's copies of the instance's snapshots, pruned under the same policy, with
 * every rule of prune (its marks, in use, protected, max-deletes, the new copy among those listed).
 */
async function pruneCopies(targetCloud, plan, record, source, dryRun) {
    if (!plan.retention)
        return undefined;
    if (!record.instanceId || source.properties[Property.ManagedBy] !== MANAGED_BY) {
        log.info(t `Snapshot ${source.id} was not made by this action for an instance: its copies in region ${record.region} are not pruned`);
        return undefined;
    }
    log.info(t `Pruning the copies in region ${record.region} of instance ${record.instanceId}'s snapshots`);
    try {
        return await prune(targetCloud, {
            retention: { ...plan.retention, includeUnmanaged: false },
            dryRun,
            copiesOf: { instanceId: record.instanceId, region: record.sourceRegion },
            ...(record.imageId && !dryRun ? { justCreated: record.imageId } : {}),
        });
    }
    catch (error) {
        return {
            failure: new StepError(`The copy in region ${record.region} is active, but the prune of the copies after it failed: ${explain(error, targetCloud)}`),
        };
    }
}

;// CONCATENATED MODULE: ./src/modes/copy/copy.ts










/**
 * The regions to copy to, checked against the catalog once logged in and before anything is
 * changed; and what each target Glance offers (`glance-download` would need no runner in the
 * middle, but streaming is the path every Glance takes: it is the one used).
 */
async function copy_checkTargets(cloud, plan) {
    const offered = await cloud.regionsOf(['image']);
    const missing = plan.regions.filter((region) => !offered.some((o) => o.toLowerCase() === region.toLowerCase()));
    if (missing.length)
        throw new StepError(`${Input.CopyToRegion}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in the catalog for the image service: this project's regions are ${offered.join(', ') || '(none)'}; nothing was changed`);
    for (const region of plan.regions) {
        const methods = await (await cloud.inRegion(region).images())
            .importInfo()
            .then((info) => info.methods)
            .catch(() => []);
        log.info(t `Region ${region}'s Glance offers the import methods: ${methods.join(', ') || '(none)'}; the data is streamed through the runner (GET into PUT, never on disk)`);
    }
}
/** The newest active snapshot of the server made by this action (of the names the glob matches), never one restore took before a rebuild. */
async function newestOf(cloud, server, nameGlob) {
    const images = await cloud.images();
    const owner = await cloud.projectId();
    const matcher = nameGlob ? globToRegExp(nameGlob) : undefined;
    const query = { owner, status: 'active', sort: 'created_at:desc', [Property.ManagedBy]: MANAGED_BY, [Property.InstanceId]: server.id };
    for await (const image of images.list(query, MARKS)) {
        const ofServer = instancesOf(image).length > 0 && instancesOf(image).every((id) => id === server.id);
        if (!(isManaged(image) && image.status === 'active' && image.owner === owner && ofServer && !beforeRestoreOf(image)))
            continue;
        if (matcher && (image.name === null || !matcher.test(image.name)))
            continue;
        const full = await images.getAll(image.id);
        if (!full)
            continue;
        log.info(t `Instance ${server.name}: copying its newest snapshot ${image.id} "${image.name ?? ''}" (created ${isoSeconds(image.createdAt)})`);
        return full;
    }
    throw new StepError(`There is no active snapshot of instance ${server.name} (${server.id}) in region ${cloud.region} made by this action${nameGlob ? ` whose name matches "${nameGlob}"` : ''}: give ${Input.SnapshotId}, or take one first with mode create`);
}
/** Every snapshot to copy, each refused (with the reason) before anything is sent if it cannot be copied. */
async function sources(cloud, settings) {
    const { source } = settings;
    const images = await cloud.images();
    const found = [];
    if ('imageId' in source) {
        const image = await images.getAll(source.imageId);
        if (!image)
            throw new StepError(`${Input.SnapshotId}: there is no image ${source.imageId} in region ${settings.region}`);
        found.push(image);
    }
    else {
        const servers = await selectServers(await cloud.compute(), source.servers, await cloud.projectId());
        if (!servers.length)
            log.notice(t `No instance matches the selection: nothing to copy (${Input.AllowEmptySelection})`);
        for (const server of servers)
            found.push(await newestOf(cloud, server, source.nameGlob));
    }
    const projectId = await cloud.projectId();
    for (const image of found) {
        const why = copyRefusal(image, projectId);
        if (why)
            throw new StepError(`Snapshot ${image.id} "${image.name ?? ''}" is not copied: ${why}. Nothing was changed`);
    }
    return found;
}
/** Copy one snapshot to each region in turn: each copy has its own outcome; the failures are named together. */
async function copy_copySnapshot(cloud, plan, source, dryRun, cancel) {
    const records = [];
    const failures = [];
    for (const region of plan.regions) {
        if (cancel.cancelled) {
            failures.push(cancel.error(t `before snapshot ${source.id} was copied to region ${region}`).message);
            continue;
        }
        const { result, failure } = await copyToRegion({ cloud, source, region, plan, dryRun, cancel });
        if (result)
            records.push(result);
        if (failure) {
            log.warning(t `${failure.message}`);
            failures.push(failure.message);
        }
    }
    return { result: records, ...(failures.length ? { failure: new StepError(failures.join('; ')) } : {}) };
}
/** Mode copy: the snapshot given, or each selected instance's newest, copied to every region. */
async function copyMode(cloud, settings, cancel = new Cancellation()) {
    // Everything that can be refused is, before the first change: the regions, then each snapshot.
    await copy_checkTargets(cloud, settings.copy);
    const found = await sources(cloud, settings);
    const result = { mode: 'copy', dryRun: settings.dryRun, copies: [] };
    const failures = [];
    await pMap(found, async (image) => {
        const each = () => copy_copySnapshot(cloud, settings.copy, image, settings.dryRun, cancel);
        // Several snapshots at once: each one's lines prefixed with its name.
        const outcome = await (found.length > 1 ? within(image.name ?? image.id, each) : each());
        result.copies.push(...(outcome.result ?? []));
        if (outcome.failure)
            failures.push(outcome.failure.message);
    }, { concurrency: settings.concurrency });
    if (cancel.cancelled && !failures.length)
        failures.push(cancel.error('after the copies were made: they stand, but a cancelled job fails').message);
    return { result, ...(failures.length ? { failure: new StepError(failures.join('; ')) } : {}) };
}

;// CONCATENATED MODULE: ./src/modes/create/create.ts























/** The snapshot's name (from the template) and properties: the action's marks, the instance, provenance and a request ID. */
function imageRequest(settings, server) {
    const p = settings.provenance;
    const values = {
        instance: server.name,
        instance_id: server.id,
        region: settings.region,
        now: new Date(),
        sha: p.sha,
        run_id: p.runId,
        run_attempt: p.runAttempt,
        repo: p.repository,
        ref_name: p.refName,
    };
    // Glance takes 255 characters: the action's own template is made to fit, the user's is refused (before any change).
    const name = settings.fitName ? renderFitted(settings.template, values, 255) : renderName(settings.template, values);
    if (!name || name.length > 255)
        throw new StepError(`${Input.SnapshotName}: the template "${settings.template}" gives "${name}", which is not 1 to 255 characters`);
    const metadata = {
        ...settings.metadata,
        ...provenanceProperties(p),
        [Property.ManagedBy]: MANAGED_BY,
        // Nova records the instance only on image-backed snapshots: these find volume-backed ones too.
        [Property.InstanceId]: server.id,
        [Property.InstanceName]: server.name.slice(0, 255),
        [Property.RequestId]: randomUUID(),
        ...(settings.step ? stepProperties(settings.step) : {}),
    };
    return { server, name, metadata };
}
/**
 * Every server of the selection, each snapshotted on its own; one server named once is a step of
 * its own. Once the job is cancelled, no server is begun.
 */
async function create_create(cloud, settings, cancel = new Cancellation()) {
    // copy-to-region: the regions are checked against the catalog before any snapshot is taken.
    if (settings.copy)
        await checkTargets(cloud, settings.copy);
    // A fleet's images are watched together: one listing per look instead of one GET per image.
    const looks = new ImageLooks(await cloud.images());
    // Their servers too, while the disks are captured: one server listing per look.
    const serverLooks = new ServerLooks(await cloud.compute());
    const outcome = await forSelection(cloud, settings, 'create', async (server, inFleet) => {
        if (settings.copy && server.volumeBacked)
            throw volumeBackedCopy(server);
        const outcome = await snapshotServer(cloud, settings, server, inFleet ? looks : undefined, cancel, inFleet ? serverLooks : undefined);
        return settings.copy ? thenCopy(cloud, settings, settings.copy, outcome, cancel) : outcome;
    }, cancel);
    // A cancelled job fails, even when what was under way could end.
    return cancel.cancelled && !outcome.failure
        ? { ...outcome, failure: cancel.error('after the snapshots were taken: they stand, but a cancelled job fails') }
        : outcome;
}
/** A volume-backed snapshot holds no data to copy: refused before the server is snapshotted. */
const volumeBackedCopy = (server) => new StepError(`${Input.CopyToRegion}: instance ${server.name} (${server.id}) is volume-backed: its snapshot holds no image data (the disks are Cinder snapshots, which stay in their region), so it cannot be copied to another region. It was not snapshotted; leave ${Input.CopyToRegion} out for it, or copy its volumes with Cinder backups`);
/** copy-to-region: once the snapshot is active, its copies (planned, in a dry run); the step fails for a copy that fails. */
async function thenCopy(cloud, settings, plan, outcome, cancel) {
    const { result } = outcome;
    if (!result || (!result.dryRun && result.image.status !== 'active'))
        return outcome;
    let source;
    if (result.dryRun) {
        // What the new snapshot would be: its marks, for the plan of the copies and their prune.
        source = {
            id: '',
            name: result.image.name,
            status: 'active',
            createdAt: new Date(),
            size: null,
            minDisk: 0,
            minRam: 0,
            protected: false,
            owner: await cloud.projectId(),
            imageType: 'snapshot',
            instanceUuid: result.server.id,
            bdmV2: false,
            volumeSnapshotIds: [],
            properties: { [Property.ManagedBy]: MANAGED_BY, [Property.InstanceId]: result.server.id },
        };
    }
    else {
        source = await (await cloud.images()).getAll(result.image.id);
        const why = source ? copyRefusal(source, await cloud.projectId()) : 'it is no longer in Glance';
        if (!source || why) {
            const failure = new StepError(`Snapshot ${result.image.id} is active, but it is not copied: ${why}`, { imageId: result.image.id });
            return { result, failure: outcome.failure ?? failure };
        }
    }
    const copied = await copySnapshot(cloud, plan, source, settings.dryRun, cancel);
    result.copies = copied.result ?? [];
    const failures = [
        outcome.failure?.message,
        copied.failure && `Snapshot ${result.image.id || result.image.name} was taken, but ${copied.failure.message}`,
    ].filter(Boolean);
    return failures.length ? { result, failure: new StepError(failures.join('. '), { imageId: result.image.id || undefined }) } : { result };
}
/**
 * How far the snapshot can be trusted: taken of a stopped disk (SHUTOFF, or stopped for it), with
 * the guest's filesystems frozen by Nova, or as a crash would leave it. Nova quiesces only a
 * running guest: a PAUSED or SUSPENDED one is taken as it stands, crash-consistent.
 */
function consistencyOf(server, stopped, image) {
    if (stopped || server.status === 'SHUTOFF')
        return 'stopped';
    if (server.status !== 'ACTIVE')
        return 'crash-consistent';
    return /^(yes|true)$/i.test(String(image?.properties[GUEST_AGENT] ?? '')) ? 'quiesced' : 'crash-consistent';
}
/**
 * A token login cannot renew its token: a server stopped with one that expires before the
 * deadline (and the time to start it again) could be left down. Refused before it is stopped.
 */
async function refuseShortToken(cloud, settings, server, deadline) {
    if (settings.credentials.method !== 'token')
        return;
    const { expiresAt } = await cloud.identity.token();
    if (expiresAt.getTime() >= deadline.at + RESTART_MS)
        return;
    throw new StepError(`${Input.StopInstance}: the token expires at ${expiresAt.toISOString()}, before the ${Input.Timeout} of ${formatDuration(deadline.budgetMs)} (and a minute to start the instance again) is over, ` +
        `and a token login cannot renew it: instance ${server.name} was not stopped, nor snapshotted. Log in with an application credential (${Input.ApplicationCredentialId}, ${Input.ApplicationCredentialSecret}) ` +
        `or a password, which are renewed; or give a token that lives longer, or a shorter ${Input.Timeout}`);
}
/**
 * Snapshot one server: wait until it can be, (stop it,) request the image at most once, (start it
 * as soon as its disk is captured,) wait until the image is active, then prune its snapshots.
 */
async function snapshotServer(cloud, settings, found, looks, cancel = new Cancellation(), serverLooks) {
    // Every wait of the snapshot ends at the cancel; starting the server again has its own time.
    const deadline = Deadline.after(settings.timeoutMs, cancel.signal);
    const compute = await cloud.compute();
    const images = await cloud.images();
    let server = found;
    log.info(t `Instance: ${server.name} (${server.id}), ${server.status}${server.volumeBacked ? ', volume-backed' : ''}, region ${settings.region}`);
    // A dry run waits for nothing: it says what it would wait for.
    if (!settings.dryRun || !busy(server))
        server = await untilFree(compute, server, SNAPSHOT, deadline).catch(cutShort(cancel, server));
    const request = imageRequest(settings, server);
    if (settings.dryRun)
        return dryRun(cloud, settings, request);
    // A re-run of this step takes the snapshot its first attempt took: the server may be half-deployed since.
    const earlier = settings.step ? await earlierAttempt(images, server, settings.step, await cloud.projectId()) : undefined;
    const stops = settings.stopInstance && !earlier;
    if (stops && server.status === 'ACTIVE')
        await refuseShortToken(cloud, settings, server, deadline);
    const stopped = stops ? await stopForSnapshot(compute, server, deadline, cancel) : undefined;
    const started = Date.now();
    let imageId;
    try {
        cancel.check(t `the snapshot of instance ${server.name} was requested`);
        imageId =
            earlier?.id ?? (await createImageOnce(compute, images, { ...request, server: stopped?.server ?? server }, deadline).catch(cutShort(cancel, server)));
    }
    catch (error) {
        if (stopped)
            await startAgain(compute, stopped, cancel);
        throw error;
    }
    const name = earlier?.name ?? request.name;
    if (!earlier)
        log.info(t `Snapshot requested: ${imageId} "${name}" (Nova microversion ${compute.microversion})`);
    if (settings.captured && stopped) {
        log.info(t `${Input.StopInstance} with ${Input.Wait}: ${WAIT_CAPTURED}: Nova refuses os-start until the snapshot's task ends, after the upload, so instance ${server.name} stays down until then and the step waits for active`);
    }
    // From here on, whatever happens, the outcome names the image.
    const restart = stopped ? await startWhenCaptured(compute, stopped, deadline, cancel) : undefined;
    const down = restart && 'problem' in restart ? restart.problem : undefined;
    /** A failure about the image, and about the server if it was not seen running again. */
    const fail = (message) => ({ failure: new StepError(down ? `${message.replace(/\.?$/, '.')} ${down}` : message, { imageId }) });
    const cancelled = () => fail(cancel.error(t `after snapshot ${imageId} of instance ${server.name} was requested: it goes on in the cloud; check it with: openstack image show ${imageId} -c status`).message);
    if (cancel.cancelled)
        return cancelled();
    let image;
    let polls = 1;
    let capturedAt;
    try {
        if (settings.captured && !stopped) {
            ({ image, polls, capturedAt } = await untilCaptured(compute, images, server, imageId, deadline, looks && serverLooks ? { servers: serverLooks, images: looks } : undefined));
            if (cancel.cancelled)
                return cancelled();
        }
        else if (settings.wait) {
            ({ image, polls } = await untilActive(images, compute, server, imageId, deadline, looks));
            if (cancel.cancelled)
                return cancelled();
        }
        else
            image = await images.get(imageId, [GUEST_AGENT]);
    }
    catch (error) {
        // What became of the image (dead, gone, still on its way), unless the cancel cut the wait short.
        if (error instanceof StepError)
            return cancel.cancelled ? cancelled() : fail(error.message);
        const why = explain(error, settings);
        return fail(`Snapshot ${imageId} was requested, but looking at it failed: ${why}. It may still become active; check it with: openstack image show ${imageId} -c status`);
    }
    const result = {
        mode: 'create',
        dryRun: false,
        server,
        image: { id: imageId, name, status: image?.status ?? 'unknown', size: image?.size ?? null },
        volumeSnapshotIds: image?.volumeSnapshotIds ?? [],
        durationMs: Date.now() - started,
        polls,
        consistency: consistencyOf(server, !!stopped, image),
        ...(restart && 'downtimeMs' in restart ? { downtimeMs: restart.downtimeMs } : {}),
        ...(capturedAt ? { capturedAt, uploading: image?.status !== 'active' } : {}),
        ...(earlier ? { reused: true } : {}),
    };
    // The snapshot stands, but the server it was taken of may not run again: the step fails for it.
    if (down)
        return { result, failure: new StepError(down, { imageId }) };
    const { retention } = settings;
    if (result.uploading) {
        log.info(t `Disk of instance ${server.name} captured at ${capturedAt?.toISOString()}; snapshot ${imageId} is ${result.image.status}: the job goes on while it uploads, and the post step waits until it is active${retention ? ' before the prune after it' : ''}`);
        return { result };
    }
    if (settings.verify) {
        const verified = await verifyImage(cloud, { ...settings, ...settings.verify }, server, imageId, cancel).catch((error) => ({
            failure: asFailure(error, settings),
        }));
        if (verified.result)
            result.verify = verified.result;
        if (verified.failure) {
            const skipped = retention ? '; the prune after it was not run, so no older snapshot was deleted for it' : '';
            return { result, failure: new StepError(`Snapshot ${imageId} is active, but its verify failed: ${verified.failure.message}${skipped}`, { imageId }) };
        }
    }
    if (!retention)
        return { result };
    // Only after the snapshot is active (untilActive threw otherwise).
    try {
        return create_withPrune(result, await pruneAfter(cloud, settings, retention, server, imageId));
    }
    catch (error) {
        // The snapshot stands: its outputs are still written, and the step fails for the prune.
        return { result, failure: new StepError(`Snapshot ${imageId} is active, but the prune after it failed: ${explain(error, settings)}`) };
    }
}
/** A wait cut short by the cancel fails for it, not for a timeout. */
function cutShort(cancel, server) {
    return (error) => {
        throw cancel.cancelled && !(error instanceof Cancelled) ? cancel.error(t `before instance ${server.name} was snapshotted`) : error;
    };
}
/** The create's outcome with its prune's: the step fails when the prune does. */
function create_withPrune(result, pruned) {
    return { result: { ...result, prune: pruned.result }, ...(pruned.failure ? { failure: pruned.failure } : {}) };
}
/** The prune after a create covers only what this template names, for this server. */
function pruneAfter(cloud, settings, retention, server, justCreated) {
    const nameGlob = templateGlob(settings.template, { instance: server.name, instance_id: server.id, region: settings.region });
    // A backup restore took (snapshot-before) may match the glob: it is not the template's to count or delete.
    return prune_prune(cloud, { retention, nameGlob, dryRun: settings.dryRun, server, justCreated, withoutBackups: true });
}
/** What a create would do, sending nothing: the server it would snapshot, the name, and the prune it would make. */
async function dryRun(cloud, settings, { server, name }) {
    log.info(t `Dry run: would snapshot instance ${server.name} (${server.id}) as "${name}"${busy(server) ? t `, once it is no longer ${server.taskState ?? server.status}` : ''}`);
    const stops = settings.stopInstance && server.status === 'ACTIVE';
    if (stops)
        log.info(t `Dry run: would stop instance ${server.name} first, and start it again once its disk is captured`);
    const consistency = stops || server.status === 'SHUTOFF' ? 'stopped' : 'crash-consistent';
    const result = {
        mode: 'create',
        dryRun: true,
        server,
        image: { id: '', name, status: 'dry-run', size: null },
        volumeSnapshotIds: [],
        durationMs: 0,
        polls: 0,
        consistency,
    };
    const { retention } = settings;
    if (!retention)
        return { result };
    // The real run also counts the new snapshot, so it may delete one more than this plan.
    log.info(t `Dry run: the prune after it, planned over the snapshots there are now`);
    return create_withPrune(result, await pruneAfter(cloud, settings, retention, server));
}

;// CONCATENATED MODULE: ./src/modes/post/finish.ts









/** A server Nova no longer shows: known by its ID only. */
const goneServer = (id) => ({ id, name: id, status: 'DELETED', taskState: null, volumeBacked: false, volumeIds: [], metadata: {} });
/**
 * The post step's work: wait until every snapshot the main step left uploading is active (one
 * Glance listing per look for all of them, within upload-timeout), then the prune the main step
 * deferred, for each server. An upload that failed fails the step with Nova's reason.
 */
async function finishUploads(cloud, settings, pending) {
    const compute = await cloud.compute();
    const images = await cloud.images();
    const deadline = wait_Deadline.after(settings.uploadTimeoutMs ?? 0);
    const looks = new looks_ImageLooks(images, new wait_PollGrid(wait_promptPollDelay));
    log_log.info(log_t `Waiting for ${pending.length} snapshot(s) left uploading by the main step (${constants_Input.Wait}: captured) to be active, within ${duration_formatDuration(deadline.budgetMs)} (${constants_Input.UploadTimeout})`);
    const uploads = await p_map_pMap(pending, async (p) => {
        const server = (await compute.getServer(p.serverId)) ?? goneServer(p.serverId);
        return log_within(server.name, () => finishOne(cloud, { compute, images }, settings, server, p, deadline, looks));
    });
    const failed = uploads.filter((u) => u.failure);
    const result = { mode: 'post', uploads };
    if (!failed.length)
        return { result };
    return { result, failure: new outcome_StepError(failed.map((u) => u.failure?.message).join('; ')) };
}
async function finishOne(cloud, { compute, images }, settings, server, p, deadline, looks) {
    const capturedAt = new Date(p.capturedAt);
    const upload = { server, image: { id: p.imageId, name: null, status: 'unknown', size: null }, capturedAt };
    let image;
    try {
        ({ image } = await active_untilActive(images, compute, server, p.imageId, deadline, looks));
    }
    catch (error) {
        if (!(error instanceof outcome_StepError))
            return { ...upload, failure: new outcome_StepError(`Looking at snapshot ${p.imageId} failed: ${outcome_explain(error, settings)}`, { imageId: p.imageId }) };
        const seen = await images.get(p.imageId).catch(() => undefined);
        if (seen)
            upload.image = { id: seen.id, name: seen.name, status: seen.status, size: seen.size };
        else
            upload.image.status = 'gone';
        const message = `The upload of snapshot ${p.imageId} of instance ${server.name} (${server.id}) did not end active after the job went on (${constants_Input.Wait}: captured): ${error.message}.` +
            `${await novaReason(compute, server)} This snapshot is no roll-back point: roll back from the one before it`;
        log_log.warning(log_t `${message}`);
        return { ...upload, failure: new outcome_StepError(message, { imageId: p.imageId }) };
    }
    Object.assign(upload, { image: { id: image.id, name: image.name, status: image.status, size: image.size }, uploadedAt: new Date() });
    log_log.info(log_t `Snapshot ${image.id} of instance ${server.name} is active: captured at ${capturedAt.toISOString()}, uploaded by ${upload.uploadedAt?.toISOString()} (${duration_formatDuration(Date.now() - p.capturedAt)} after the capture), ${image.size ?? '?'} bytes`);
    const { retention } = settings;
    if (!retention)
        return upload;
    try {
        const pruned = await pruneAfter(cloud, settings, retention, server, image.id);
        return { ...upload, prune: pruned.result, ...(pruned.failure ? { failure: pruned.failure } : {}) };
    }
    catch (error) {
        return { ...upload, failure: new outcome_StepError(`Snapshot ${image.id} is active, but the prune after it failed: ${outcome_explain(error, settings)}`) };
    }
}
/**
 * Nova's own account of the snapshot (the createImage instance action, its events with their
 * details where the microversion shows them) and the server's fault: a sentence, or '' when
 * Nova says nothing more (a look that fails adds nothing rather than hiding the failure).
 */
async function novaReason(compute, server) {
    const fault = server.fault ? ` The instance's fault: ${server.fault}.` : '';
    try {
        const action = await compute.lastSnapshotAction(server.id);
        if (!action)
            return fault;
        // Below 2.51 a non-admin is shown no events: only the action's own message.
        if (!action.events.length)
            return ` Nova's record of createImage ${action.requestId} (microversion ${action.microversion}): ${action.message ?? 'no message'}.${fault}`;
        const failed = action.events.filter((event) => event.result && event.result !== 'Success');
        const events = (failed.length ? failed : action.events).map((e) => `${e.event} ${e.result ?? 'running'}${e.details ? `: ${e.details}` : ''}`).join(', ');
        const said = failed.length
            ? `Nova's reason (createImage ${action.requestId}, microversion ${action.microversion}): ${events}.`
            : `Nova recorded no error for createImage ${action.requestId}${events ? ` (${events})` : ''}: the image was deleted or its upload stopped outside Nova (in Glance).`;
        return ` ${said}${fault}`;
    }
    catch {
        return fault;
    }
}

;// CONCATENATED MODULE: ./src/modes/post/pending.ts

/** The name of the one GITHUB_STATE entry the main step leaves the post step. */
const PENDING_STATE = 'uploading';
/** The snapshots a create left uploading (wait: captured), of one server or a fleet. */
function pendingOf(result) {
    const results = result?.mode === 'fleet' ? result.items.flatMap((item) => (item.result?.mode === 'create' ? [item.result] : [])) : result ? [result] : [];
    return results.flatMap((r) => (r.uploading && r.capturedAt ? [{ imageId: r.image.id, serverId: r.server.id, capturedAt: r.capturedAt.getTime() }] : []));
}
/** The state as written; what the post step reads back is checked again (a state file is not to be trusted more than an input). */
const encodePending = (pending) => JSON.stringify(pending.map((p) => [p.imageId, p.serverId, p.capturedAt]));
function decodePending(text) {
    if (!text)
        return [];
    const rows = JSON.parse(text);
    if (!Array.isArray(rows))
        throw new Error('the state of the main step is not a list');
    return rows.map((row) => {
        if (!Array.isArray(row))
            throw new Error('the state of the main step is malformed');
        const [imageId, serverId, capturedAt] = row;
        if (typeof imageId !== 'string' || !isUuid(imageId) || typeof serverId !== 'string' || !isUuid(serverId) || typeof capturedAt !== 'number') {
            throw new Error('the state of the main step names something that is not a snapshot and an instance');
        }
        return { imageId, serverId, capturedAt };
    });
}

;// CONCATENATED MODULE: ./src/report.ts






/** GitHub keeps at most 1 MiB of summary per step: long prunes show this many rows. */
const MAX_ROWS = 500;
/** Summary text is HTML in Markdown: names and messages come from the cloud and from users, so all of it is escaped here. */
const html = (text) => neutralise(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/\|/g, '&#124;');
/** A cell with no value. */
const NONE = '–';
/** A table whose every cell is data; a column with no value in any row is left out. */
function table(header, rows) {
    const shown = header.map((_, i) => !rows.length || rows.some((row) => row[i] !== '' && row[i] !== NONE));
    const some = (cells) => cells.filter((_, i) => shown[i]);
    lib_core/* summary */.z.addTable([some(header).map((data) => ({ data: html(data), header: true })), ...rows.map((row) => some(row).map(html))]);
}
/** A paragraph: `label` is the action's words, `text` is data. */
const paragraph = (label, text) => lib_core/* summary */.z.addRaw(`<p>${label ? `<b>${label}</b> ` : ''}${html(text)}</p>`, true);
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
function size(bytes) {
    if (bytes === null || bytes === undefined)
        return NONE;
    let power = 0;
    while (power < UNITS.length - 1 && bytes >= 1024 ** (power + 1))
        power++;
    return power ? `${(bytes / 1024 ** power).toFixed(1)} ${UNITS[power]}` : `${bytes} B`;
}
const json = (values) => JSON.stringify(values);
const seconds = (ms) => (ms / 1000).toFixed(1);
/** What became of one instance, as a row of the `snapshots` output (snake_case, as the image properties are). */
function imageRow({ server, result, failure }) {
    const base = { instance_id: server.id, instance_name: server.name, error: failure?.message ?? null };
    if (result?.mode === 'create') {
        const { image } = result;
        return {
            ...base,
            snapshot_id: image.id || null,
            snapshot_name: image.name,
            status: image.status,
            duration_seconds: Number(seconds(result.durationMs)),
            consistency: result.consistency,
            downtime_seconds: result.downtimeMs === undefined ? null : Number(seconds(result.downtimeMs)),
            ...(result.capturedAt ? { captured_at: result.capturedAt.toISOString() } : {}),
        };
    }
    if (result?.mode === 'restore') {
        return {
            ...base,
            snapshot_id: result.image.id,
            snapshot_name: result.image.name,
            status: result.server.status,
            duration_seconds: Number(seconds(result.durationMs)),
            previous_image_id: result.previousImageId ?? null,
        };
    }
    return { ...base, snapshot_id: failure?.imageId ?? null, snapshot_name: null, status: 'failed', duration_seconds: null };
}
/** The snapshots a prune keeps: by the policy, or held (in use, or not deletable). */
function keptBy(prune) {
    const held = new Set(prune.held.map((h) => h.image.id));
    return prune.decisions.filter((d) => d.keep || held.has(d.snapshot.id)).map((d) => d.snapshot.id);
}
function viewOf(result) {
    const view = viewWithoutCopies(result);
    if (result?.mode === 'copy')
        return { ...view, copies: result.copies };
    const asked = view.created.filter((r) => r.copies);
    return asked.length ? { ...view, copies: asked.flatMap((r) => r.copies ?? []) } : view;
}
function viewWithoutCopies(result) {
    switch (result?.mode) {
        case 'create':
            return { alone: result, prunes: result.prune ? [result.prune] : [], created: [result] };
        case 'restore':
            return { alone: result, prunes: [], created: [] };
        case 'fleet': {
            const created = result.items.flatMap((item) => (item.result?.mode === 'create' ? [item.result] : []));
            const prunes = created.flatMap((r) => (r.prune ? [r.prune] : []));
            return { fleet: { of: result.of, rows: result.items.map(imageRow) }, prunes, created };
        }
        case 'prune':
            return { prunes: [result], created: [] };
        case 'delete':
            return { deleted: result, prunes: [], created: [] };
        default:
            return { prunes: [], created: [] };
    }
}
/** What the step deleted, or chose to delete: mode delete's, or its prunes'. */
const deletionsOf = ({ deleted, prunes }) => deleted?.deletions ?? (prunes.length ? prunes.flatMap((p) => p.deletions) : undefined);
/** Each output in one place; one the step has no value for is not set. */
function outputs(view, failure) {
    const { alone, fleet, prunes } = view;
    const created = alone?.mode === 'create' ? alone : undefined;
    const restored = alone?.mode === 'restore' ? alone : undefined;
    const deletions = deletionsOf(view);
    const done = deletions?.filter((d) => d.outcome === 'deleted');
    const set = (name, value) => {
        if (value !== undefined)
            log.output(name, value);
    };
    // The snapshot made or restored from; or one that was requested but did not become active.
    set(Output.SnapshotId, alone?.image.id || failure?.imageId);
    set(Output.SnapshotName, alone && (alone.image.name ?? ''));
    set(Output.SnapshotStatus, created?.image.status);
    set(Output.SnapshotSize, created && String(created.image.size ?? ''));
    set(Output.InstanceId, alone?.server.id);
    set(Output.InstanceName, alone?.server.name);
    set(Output.VolumeBacked, created && String(created.server.volumeBacked));
    // The new snapshot's; or those a delete or a prune deleted (a fleet's names none).
    const volumeSnapshots = created
        ? created.volumeSnapshotIds
        : fleet
            ? undefined
            : done?.flatMap((d) => d.volumeSnapshots.filter((v) => v.outcome === 'deleted').map((v) => v.id));
    set(Output.VolumeSnapshotIds, volumeSnapshots && json(volumeSnapshots));
    set(Output.Duration, alone && seconds(alone.durationMs));
    set(Output.DeletedSnapshotIds, done && json(done.map((d) => d.image.id)));
    set(Output.DeletedCount, done && String(done.length));
    // What it tried to delete: a prune's deletions that failed too.
    const failed = prunes.flatMap((p) => p.failures.map((f) => f.image.id));
    set(Output.PlannedSnapshotIds, deletions && json([...deletions.map((d) => d.image.id), ...failed]));
    set(Output.KeptSnapshotIds, prunes.length ? json(prunes.flatMap(keptBy)) : undefined);
    set(Output.PreviousImageId, restored && (restored.previousImageId ?? ''));
    set(Output.BackupSnapshotId, restored?.backup?.image.id);
    const rows = fleet?.rows ?? (alone && [imageRow({ server: alone.server, result: alone })]);
    set(Output.Snapshots, rows && JSON.stringify(rows));
    set(Output.Consistency, created?.consistency);
    set(Output.DowntimeSeconds, created && (created.downtimeMs === undefined ? '' : seconds(created.downtimeMs)));
    set(Output.CapturedAt, created && (created.capturedAt?.toISOString() ?? ''));
    set(Output.Copies, view.copies && JSON.stringify(view.copies.map(copyRow)));
}
/** One copy as a row of the `copies` output (snake_case, as the snapshots output). */
function copyRow(copy) {
    return {
        region: copy.region,
        image_id: copy.imageId || null,
        status: copy.status,
        bytes: copy.bytes,
        seconds: Number(seconds(copy.durationMs)),
        method: copy.method,
        source_region: copy.sourceRegion,
        source_image_id: copy.sourceId || null,
        instance_id: copy.instanceId,
        deleted_copy_ids: copy.prune ? copy.prune.deletions.filter((d) => d.outcome === 'deleted').map((d) => d.image.id) : [],
        error: copy.error ?? null,
    };
}
/** A row per copy: where from, where to, how and how fast; the prune of the region's copies after it. */
function copySection(copies, dryRun) {
    core.summary.addHeading(dryRun ? 'Copies in other regions (dry run: nothing copied)' : 'Copies in other regions', 2);
    const rate = (c) => (c.durationMs > 0 && c.bytes ? `${(c.bytes / 1e6 / (c.durationMs / 1000)).toFixed(1)} MB/s` : NONE);
    const pruned = (c) => {
        if (!c.prune)
            return NONE;
        const gone = c.prune.deletions.filter((d) => d.outcome !== 'missing').length;
        return `${c.prune.dryRun ? 'would delete' : 'deleted'} ${gone} of ${c.prune.decisions.length}`;
    };
    table(['Snapshot', 'From', 'To', 'Copy ID', 'Status', 'Size', 'Took', 'Rate', 'Method', 'Pruned', 'Error'], copies.map((c) => [
        `${c.sourceName ?? ''}${c.sourceId ? ` (${c.sourceId})` : ''}`,
        c.sourceRegion,
        c.region,
        c.imageId || NONE,
        c.status,
        size(c.bytes || null),
        `${seconds(c.durationMs)} s`,
        rate(c),
        c.method === 'stream' ? 'streamed through the runner' : c.method === 'existing' ? 'already there' : NONE,
        pruned(c),
        c.error ?? '',
    ]));
}
function createSection(result) {
    const { image, server } = result;
    core.summary.addHeading(result.dryRun ? 'Snapshot (dry run: not created)' : 'Snapshot created', 2);
    table(['Snapshot', 'Snapshot ID', 'Status', 'Instance', 'Size', 'Took'], [
        [
            image.name,
            image.id || NONE,
            image.status,
            `${server.name} (${server.id})${server.volumeBacked ? ', volume-backed' : ''}`,
            size(image.size),
            `${seconds(result.durationMs)} s`,
        ],
    ]);
}
/** wait: captured: when each disk was captured, and a plain line when the job goes on before the upload ended; a re-run's reuse. */
function captureNote(results) {
    const reused = results.filter((r) => r.reused);
    if (reused.length)
        paragraph('Re-run:', `reused the snapshot an earlier attempt of this step took (${reused.map((r) => r.image.id).join(', ')}); no second snapshot was taken.`);
    const captured = results.filter((r) => r.capturedAt);
    if (!captured.length)
        return;
    paragraph('Captured at:', captured.map((r) => `${r.server.name}: ${r.capturedAt?.toISOString()}`).join(', '));
    const uploading = captured.filter((r) => r.uploading);
    if (uploading.length) {
        paragraph('The job goes on before the upload ended:', `${uploading.map((r) => `${r.image.id} (${r.image.status})`).join(', ')}. Each holds the disk as it was when captured; the post step at the end of the job waits until it is active (and runs the prune after it, if asked) and fails the job if the upload fails.`);
    }
}
function restoreSection(result) {
    const { image, server } = result;
    core.summary.addHeading(result.dryRun ? 'Restore (dry run: nothing rebuilt)' : 'Instance restored', 2);
    table(['Instance', 'Restored from', 'Ran before', 'Snapshot before', 'Status', 'Took'], [
        [
            `${server.name} (${server.id})`,
            `${image.name ?? ''} (${image.id})`,
            result.previousImageId ?? NONE,
            result.backup ? `${result.backup.image.name}${result.backup.image.id ? ` (${result.backup.image.id})` : ''}` : NONE,
            server.status,
            `${seconds(result.durationMs)} s`,
        ],
    ]);
}
/** A fleet: one row per instance. */
function fleetSection(of, rows) {
    const failed = rows.filter((row) => row.error).length;
    core.summary.addHeading(`${of === 'create' ? 'Snapshots' : 'Restores'} of ${rows.length} instance(s)${failed ? `: ${failed} failed` : ''}`, 2);
    table(['Instance', 'Snapshot', 'Status', 'Took', of === 'create' ? 'Consistency' : 'Ran before', 'Error'], rows.map((row) => [
        `${row.instance_name} (${row.instance_id})`,
        row.snapshot_id ? `${row.snapshot_name ?? ''} (${row.snapshot_id})` : NONE,
        row.status,
        row.duration_seconds === null ? NONE : `${row.duration_seconds} s`,
        ('consistency' in row ? row.consistency : 'previous_image_id' in row ? row.previous_image_id : null) ?? NONE,
        row.error ?? '',
    ]));
}
function deleteSection(result) {
    core.summary.addHeading(result.dryRun ? 'Snapshot to delete (dry run: nothing deleted)' : 'Snapshot deleted', 2);
    if (result.missing)
        core.summary.addRaw(html(`Nothing to delete: ${result.missing} was not found.`), true);
    else {
        const volumes = (d) => d.volumeSnapshots.map((v) => `${v.id} (${v.outcome}${v.reason ? `: ${v.reason}` : ''})`).join(', ') || NONE;
        table(['Snapshot', 'Snapshot ID', 'Volume snapshots'], result.deletions.map((d) => [d.image.name ?? '', d.image.id, volumes(d)]));
    }
}
/** What each reason a prune table gives for keeping a snapshot means: explained once under the table. */
const REASONS = {
    last: `one of the newest (${constants_Input.KeepLast})`,
    within: `taken within ${constants_Input.KeepWithin} of the newest snapshot`,
    hourly: `the newest of its hour (${constants_Input.KeepHourly})`,
    daily: `the newest of its day, UTC (${constants_Input.KeepDaily})`,
    weekly: `the newest of its ISO week (${constants_Input.KeepWeekly})`,
    monthly: `the newest of its month, UTC (${constants_Input.KeepMonthly})`,
    yearly: `the newest of its year, UTC (${constants_Input.KeepYearly})`,
    oldest: 'the oldest: there are fewer hours, days, weeks, months or years of snapshots than the policy keeps',
    newest: 'the newest snapshot (not dated in the future): always kept',
    protected: 'protected in Glance',
    future: 'dated in the future: a wrong clock must not cost a snapshot',
    verified: `one of the newest a verify booted (${constants_Input.KeepVerified})`,
};
/** Who a snapshot records it is of, by name where a snapshot in scope records the name: the prune table's groups. */
function instanceLabels(images) {
    const names = new Map();
    for (const { properties } of images) {
        const [id, name] = [properties[constants_Property.InstanceId], properties[constants_Property.InstanceName]];
        if (typeof id === 'string' && typeof name === 'string' && name)
            names.set(id, name);
    }
    return (image) => snapshots_instancesOf(image)
        .map((id) => (names.has(id) ? `${names.get(id)} (${id})` : id))
        .join(', ') || '(none recorded)';
}
/** The space the deleted snapshots took (under dry run: would free), as Glance sizes them. */
function freed(deletions, dryRun) {
    const gone = deletions.filter((d) => d.outcome !== 'missing');
    const bytes = gone.reduce((sum, d) => sum + (d.image.size ?? 0), 0);
    const volumes = gone.reduce((sum, d) => sum + d.volumeSnapshots.filter((v) => v.outcome === 'deleted' || v.outcome === 'would-delete').length, 0);
    const unsized = gone.some((d) => d.image.size === null) ? 'at least ' : '';
    return `${dryRun ? 'Would free' : 'Space freed'}: ${unsized}${size(bytes)}${volumes ? `, and ${volumes} volume snapshot(s) (sized by Cinder)` : ''}.`;
}
/** One prune: the policy, a row per snapshot in scope (grouped by instance) and what became of it; `refusal` when it deleted nothing for that. */
function pruneSection(result, refusal) {
    const deleted = new Map(result.deletions.map((d) => [d.image.id, d]));
    const failed = new Map(result.failures.map((f) => [f.image.id, f.failure.message]));
    const held = new Map(result.held.map((h) => [h.image.id, h.reason]));
    const verb = result.dryRun ? 'would delete' : 'deleted';
    lib_core/* summary */.z
        .addHeading(`Prune${result.dryRun ? ' (dry run)' : ''}`, 2)
        .addRaw(`Policy: ${html(result.policy)}. In scope: ${result.decisions.length}; kept: ${keptBy(result).length}; ${verb}: ${result.deletions.length}.${refusal ? '' : ` ${html(freed(result.deletions, result.dryRun))}`}`, true);
    if (refusal)
        paragraph('Refused:', refusal.reason);
    const fate = (id, keep, reasons) => {
        if (keep)
            return `kept (${reasons.join(', ')})`;
        if (held.has(id))
            return `kept: ${held.get(id)}`;
        if (failed.has(id))
            return `failed: ${failed.get(id)}`;
        const outcome = deleted.get(id)?.outcome;
        if (outcome === 'deleted' || outcome === 'missing')
            return 'deleted';
        return outcome === 'would-delete' ? 'would delete' : 'not deleted';
    };
    // One group per instance (the one with the newest snapshot first), newest first within each.
    const instanceOf = instanceLabels(result.images.values());
    const groups = new Map();
    for (const d of result.decisions) {
        const key = instanceOf(result.images.get(d.snapshot.id));
        groups
            .set(key, groups.get(key) ?? [])
            .get(key)
            .push(d);
    }
    const shown = [...groups.values()].flat().slice(0, MAX_ROWS);
    const rows = shown.map((d) => {
        const image = result.images.get(d.snapshot.id);
        return [instanceOf(image), image.name ?? '', image.id, duration_isoSeconds(image.createdAt), size(image.size), fate(d.snapshot.id, d.keep, d.reasons)];
    });
    table(['Instance', 'Snapshot', 'Snapshot ID', 'Created', 'Size', 'Result'], rows);
    if (result.decisions.length > MAX_ROWS)
        lib_core/* summary */.z.addRaw(`… and ${result.decisions.length - MAX_ROWS} more (see the outputs and the log).`, true);
    const reasons = new Set(shown.flatMap((d) => (d.keep ? d.reasons : [])));
    const legend = Object.entries(REASONS).filter(([rule]) => reasons.has(rule));
    if (legend.length)
        lib_core/* summary */.z.addRaw(`<p><b>Kept:</b><br>${legend.map(([rule, meaning]) => `<code>${rule}</code>: ${html(meaning)}`).join('<br>')}</p>`, true);
}
/** Why the step fails: beside what the mode did, or on its own when it has nothing to show. A refused prune says so in its own section. */
function failureSection(failure, shown) {
    if (!failure || failure instanceof Refusal)
        return;
    if (shown)
        paragraph('Failed:', failure.message);
    else if (failure.imageId) {
        // A snapshot that was requested but did not become active: its ID and why, for whoever reads the run.
        core.summary.addHeading('Snapshot not active', 2);
        table(['Snapshot ID', 'What happened'], [[failure.imageId, failure.message]]);
    }
    else {
        // Failed before the mode had anything to show (the login, an instance not found).
        core.summary.addHeading('Failed', 2);
        paragraph('', failure.message);
    }
}
/** Only on a runner (or a test that gives it a file): summary.write() throws without one. */
async function write() {
    if (process.env.GITHUB_STEP_SUMMARY)
        await lib_core/* summary */.z.write();
}
/** The job summary of a step whose inputs are refused: nothing ran, so it sets no output. */
async function reportInvalidInput(problems) {
    core.summary.addHeading(problems.length > 1 ? 'Invalid inputs' : 'Invalid input', 2).addList(problems.map(html));
    await write();
}
/** Outputs for later steps, and the job summary: where and what the mode did, and why the step fails if it does. */
async function report({ result, failure }, apiRequests, run) {
    log.output(Output.ApiRequests, String(apiRequests));
    if (isVerify(result))
        return reportVerify(result, failure, run);
    const view = viewOf(result);
    outputs(view, failure);
    // create with verify: true.
    const verified = view.created.flatMap((created) => (created.verify ? [created.verify] : []));
    if (verified.length)
        log.output(Output.Verifications, JSON.stringify(verified.map((v) => verifyRow({ server: v.server, result: v }))));
    core.summary.addRaw(`<p><b>Region</b> ${html(run.region)} · <b>Mode</b> ${run.mode}${run.dryRun ? ' (dry run: nothing changed)' : ''}</p>`, true);
    if (view.alone?.mode === 'create')
        createSection(view.alone);
    if (view.alone?.mode === 'restore')
        restoreSection(view.alone);
    if (view.fleet)
        fleetSection(view.fleet.of, view.fleet.rows);
    captureNote(view.created);
    if (view.copies)
        copySection(view.copies, run.dryRun);
    if (view.deleted)
        deleteSection(view.deleted);
    const [first] = view.prunes;
    const deletions = deletionsOf(view);
    // A fleet's prunes, one after each snapshot, in one line; else the one prune in full.
    if (view.fleet && first && deletions) {
        paragraph('Pruned after the snapshots:', `${first.dryRun ? 'would delete' : 'deleted'} ${deletions.length} snapshot(s). ${freed(deletions, first.dryRun)}`);
    }
    else if (first)
        pruneSection(first, failure instanceof Refusal ? failure : undefined);
    failureSection(failure, result !== undefined);
    await write();
}
/** The post step's summary: each upload the main step left running, when it ended, and the prune after it. */
async function reportPost({ result, failure }, apiRequests) {
    lib_core/* summary */.z.addHeading('Uploads finished by the post step', 2);
    table(['Instance', 'Snapshot', 'Status', 'Captured at', 'Uploaded at', 'Size'], (result?.uploads ?? []).map((u) => [
        `${u.server.name} (${u.server.id})`,
        `${u.image.name ?? ''} (${u.image.id})`,
        u.image.status,
        u.capturedAt.toISOString(),
        u.uploadedAt?.toISOString() ?? NONE,
        size(u.image.size),
    ]));
    for (const { prune, failure: why } of result?.uploads ?? [])
        if (prune)
            pruneSection(prune, why instanceof outcome_Refusal ? why : undefined);
    if (failure)
        paragraph('Failed:', failure.message);
    lib_core/* summary */.z.addRaw(`<p>${apiRequests} API requests.</p>`, true);
    await write();
}
// Mode verify: a row per instance (its snapshot booted on a throwaway server, and how it went).
const isVerify = (result) => result?.mode === 'verify' || (result?.mode === 'fleet' && result.of === 'verify');
/** One instance's verify, as a row of the `verifications` output (snake_case, as the image properties are). */
function verifyRow({ server, result, failure }) {
    return {
        instance_id: server.id,
        instance_name: server.name,
        snapshot_id: result?.image.id ?? failure?.imageId ?? null,
        snapshot_name: result?.image.name ?? null,
        volume_backed: result?.image.volumeBacked ?? null,
        flavor: result?.flavor?.name ?? null,
        result: result?.result ?? 'failed',
        boot_seconds: result?.bootMs === undefined ? null : Number(seconds(result.bootMs)),
        console_matched: result?.consoleMatched ?? null,
        throwaway_server_id: result?.throwawayId ?? null,
        volume_ids: result?.volumeIds ?? [],
        swept: result?.swept ?? [],
        error: failure?.message ?? null,
    };
}
/** The outputs and the summary of a verify: one instance's or a fleet's. */
async function reportVerify(result, failure, run) {
    const rows = result.mode === 'fleet' ? result.items.map(verifyRow) : [verifyRow({ server: result.server, result, failure })];
    log.output(Output.Verifications, JSON.stringify(rows));
    if (result.mode === 'verify') {
        log.output(Output.SnapshotId, result.image.id);
        log.output(Output.InstanceId, result.server.id);
        log.output(Output.InstanceName, result.server.name);
    }
    core.summary.addRaw(`<p><b>Region</b> ${html(run.region)} · <b>Mode</b> verify${run.dryRun ? ' (dry run: nothing booted)' : ''}</p>`, true);
    const failed = rows.filter((row) => row.result !== 'passed' && row.result !== 'dry-run').length;
    core.summary.addHeading(`Snapshots booted on a throwaway server${failed ? `: ${failed} failed` : ''}`, 2);
    table(['Instance', 'Snapshot', 'Flavor', 'Result', 'Booted in', 'Console matched', 'Removed first', 'Error'], rows.map((row) => [
        `${row.instance_name} (${row.instance_id})`,
        row.snapshot_id ? `${row.snapshot_name ?? ''} (${row.snapshot_id})${row.volume_backed ? ', volume-backed' : ''}` : NONE,
        row.flavor ?? NONE,
        row.result,
        row.boot_seconds === null ? NONE : `${row.boot_seconds} s`,
        row.console_matched === null ? NONE : row.console_matched ? 'yes' : 'no',
        row.swept.join(', ') || NONE,
        row.error ?? '',
    ]));
    if (failure && result.mode === 'fleet')
        paragraph('Failed:', failure.message);
    await write();
}

;// CONCATENATED MODULE: ./src/lib/provenance.ts
/** The runner's own variables: all @actions/github's `context` would give here, without octokit in the bundle. */
function readProvenance(env = process.env) {
    const repository = env.GITHUB_REPOSITORY || undefined;
    const runId = env.GITHUB_RUN_ID || undefined;
    return {
        repository,
        sha: env.GITHUB_SHA || undefined,
        runId,
        runAttempt: env.GITHUB_RUN_ATTEMPT || undefined,
        workflow: env.GITHUB_WORKFLOW || undefined,
        refName: env.GITHUB_REF_NAME || undefined,
        runUrl: repository && runId ? `${env.GITHUB_SERVER_URL || 'https://github.com'}/${repository}/actions/runs/${runId}` : undefined,
    };
}
/** The image properties that record the provenance (Nova takes values of at most 255 characters). */
function provenance_provenanceProperties(p) {
    const entries = [
        ['github_repository', p.repository],
        ['github_sha', p.sha],
        ['github_run_id', p.runId],
        ['github_run_attempt', p.runAttempt],
        ['github_workflow', p.workflow],
        ['github_ref_name', p.refName],
    ];
    return Object.fromEntries(entries.filter((e) => !!e[1]).map(([k, v]) => [k, v.slice(0, 255)]));
}
const PROVENANCE_KEYS = ['github_repository', 'github_sha', 'github_run_id', 'github_run_attempt', 'github_workflow', 'github_ref_name'];

;// CONCATENATED MODULE: external "node:fs"
const external_node_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");
;// CONCATENATED MODULE: external "node:path"
const external_node_path_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:path");
;// CONCATENATED MODULE: ./src/settings/bounded-file.ts

/**
 * The text of a configuration file, read only when it is a regular file of at most `maxBytes`:
 * a FIFO or /dev/zero could be read forever, and a huge file costs seconds and gigabytes.
 * Otherwise why it was not read. What fs throws (a missing file) is thrown.
 */
function readBoundedText(path, maxBytes) {
    const stat = (0,external_node_fs_namespaceObject.statSync)(path);
    if (!stat.isFile())
        return { refused: 'not a regular file' };
    if (stat.size > maxBytes)
        return { refused: 'too big' };
    return { text: (0,external_node_fs_namespaceObject.readFileSync)(path, 'utf8') };
}

;// CONCATENATED MODULE: ./src/settings/clouds-yaml.ts







/** The YAML parser, once loaded: only a run that reads a clouds.yaml needs it (in dist/, a chunk of its own). */
let yaml;
/** Load the YAML parser, which `loadCloud` needs (readSettings is synchronous): loadSettings does when a cloud is named. */
async function loadYamlParser() {
    yaml ??= await __nccwpck_require__.e(/* import() */ 815).then(__nccwpck_require__.t.bind(__nccwpck_require__, 8815, 19));
}
function parser() {
    if (!yaml)
        throw new Error('clouds.yaml cannot be read before loadYamlParser() has loaded the YAML parser');
    return yaml;
}
/** The cloud of clouds.yaml that the `cloud` input or OS_CLOUD names, if any. */
const cloudName = (read) => read(constants_Input.Cloud, 'OS_CLOUD');
/** The input each key of a cloud's `auth` section stands for. */
const AUTH_KEYS = {
    auth_url: constants_Input.AuthUrl,
    username: constants_Input.Username,
    password: constants_Input.Password,
    user_domain_name: constants_Input.UserDomainName,
    user_domain_id: constants_Input.UserDomainId,
    project_id: constants_Input.ProjectId,
    project_name: constants_Input.ProjectName,
    project_domain_name: constants_Input.ProjectDomainName,
    project_domain_id: constants_Input.ProjectDomainId,
    application_credential_id: constants_Input.ApplicationCredentialId,
    application_credential_secret: constants_Input.ApplicationCredentialSecret,
    token: constants_Input.Token,
    client_id: constants_Input.ClientId,
    client_secret: constants_Input.ClientSecret,
    identity_provider: constants_Input.IdentityProvider,
    protocol: constants_Input.Protocol,
    discovery_endpoint: constants_Input.DiscoveryEndpoint,
    access_token_endpoint: constants_Input.AccessTokenEndpoint,
    openid_scope: constants_Input.OpenidScope,
    access_token_type: constants_Input.AccessTokenType,
};
const TOP_KEYS = {
    region_name: constants_Input.Region,
    interface: constants_Input.Interface,
    auth_type: constants_Input.AuthType,
    cacert: constants_Input.Cacert,
    verify: constants_Input.Insecure,
};
/** `verify` says the opposite of `insecure`: its YAML 1.1 booleans (the CLI's PyYAML reads `no` as false) turned over; anything else is left for the input's check. */
const NOT_VERIFY = { true: 'false', yes: 'false', on: 'false', false: 'true', no: 'true', off: 'true' };
const SECRET_KEYS = new Set(['password', 'application_credential_secret', 'token', 'client_secret']);
/** A clouds.yaml far bigger than any needs is refused before it is read (60 MiB took 15 s and 2.2 GB). */
const MAX_BYTES = 1024 * 1024;
/**
 * Where clouds.yaml is looked for, the first that exists being read: OS_CLIENT_CONFIG_FILE, then
 * the openstack CLI's places but the current directory, which in a job is the repository's
 * content: its clouds.yaml is read only when OS_CLIENT_CONFIG_FILE names it.
 */
function cloudsPlaces(env, cwd, home) {
    const given = env.OS_CLIENT_CONFIG_FILE;
    return [...(given ? [(0,external_node_path_namespaceObject.resolve)(cwd, given)] : []), (0,external_node_path_namespaceObject.join)(home, '.config', 'openstack', 'clouds.yaml'), '/etc/openstack/clouds.yaml'];
}
/** The secure.yaml of `clouds`: the one OS_CLIENT_SECURE_FILE names, else the one beside it; never another folder's, whose secrets would go to this file's auth_url. */
function secureFile(env, cwd, clouds) {
    const given = env.OS_CLIENT_SECURE_FILE;
    return [...(given ? [(0,external_node_path_namespaceObject.resolve)(cwd, given)] : []), (0,external_node_path_namespaceObject.join)((0,external_node_path_namespaceObject.dirname)(clouds), 'secure.yaml')].find((path) => (0,external_node_fs_namespaceObject.existsSync)(path));
}
const isTree = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
/** `over` laid on `under`, section by section (secure.yaml holds only the secret keys). */
function merge(under, over) {
    const result = { ...under };
    for (const [key, value] of Object.entries(over))
        result[key] = isTree(value) && isTree(result[key]) ? merge(result[key], value) : value;
    return result;
}
/** The parser's faults in words: its own messages may quote the file, and the file holds secrets. */
const YAML_FAULTS = {
    BAD_SCALAR_START: 'a value starts with a character such as @ or ` (quote the value)',
    BLOCK_AS_IMPLICIT_KEY: 'a value holds ": " (quote the value)',
    BAD_INDENT: 'the indentation is wrong',
    MISSING_CHAR: 'a character is missing, such as a closing quote',
    DUPLICATE_KEY: 'a key is given twice',
    TAB_AS_INDENT: 'a tab indents a line (use spaces)',
};
/** The tag YAML gives any text: the one tag a secret may have. */
const TEXT_TAG = 'tag:yaml.org,2002:str';
const NOT_TEXT = new Set(['number', 'bigint', 'boolean']);
/**
 * The clouds of a clouds.yaml or secure.yaml, every value as the text written (`0123` is not 123);
 * a problem goes to `problems`, naming the file, line and column, never quoting it.
 */
function readClouds(path, problems, { isNode, isPair, isScalar, LineCounter, parseDocument, visit }) {
    const read = readBoundedText(path, MAX_BYTES);
    if ('refused' in read) {
        problems.push(`${constants_Input.Cloud}: ${path} is ${read.refused === 'too big' ? 'over 1 MiB, more than any clouds.yaml or secure.yaml needs' : 'not a regular file'}: refused`);
        return undefined;
    }
    const lines = new LineCounter();
    // Silent: the parser's warnings go to stderr, the line quoted; merge keys (<<) as the CLI reads them.
    const document = parseDocument(read.text, { lineCounter: lines, logLevel: 'silent', prettyErrors: false, merge: true });
    const [fault] = document.errors;
    if (fault) {
        const { line, col } = lines.linePos(fault.pos[0]);
        problems.push(`${constants_Input.Cloud}: ${path}, line ${line}, column ${col}: not valid YAML: ${YAML_FAULTS[fault.code] ?? fault.code}; the line is not shown, as it may hold a secret`);
        return undefined;
    }
    let refused = false;
    visit(document, {
        Scalar(_, node) {
            if (NOT_TEXT.has(typeof node.value) && node.source !== undefined)
                node.value = node.source;
        },
        Pair(_, { key, value }, ancestors) {
            if (!isScalar(key) || !SECRET_KEYS.has(String(key.value)) || !isNode(value) || !value.tag || value.tag === TEXT_TAG)
                return;
            // A tag would make a secret into something else (a vault, code): refused, never shown.
            const keys = [...ancestors.filter(isPair), { key }].map((p) => (isScalar(p.key) ? String(p.key.value) : '?'));
            problems.push(`${constants_Input.Cloud}: ${path}, line ${lines.linePos(key.range?.[0] ?? 0).line}: ${keys.join('.')} has the tag ${value.tag.replace(/^tag:yaml\.org,2002:/, '!!')}: refused, a secret is read as the text written`);
            refused = true;
        },
    });
    if (refused)
        return undefined;
    const tree = document.toJS();
    return isTree(tree) && isTree(tree.clouds) ? tree.clouds : {};
}
/** `readClouds`, a file that cannot be read at all being a problem too. */
function readFile(path, problems, yaml) {
    try {
        return readClouds(path, problems, yaml);
    }
    catch (error) {
        problems.push(`${constants_Input.Cloud}: ${path} cannot be read: ${error.message}`);
        return undefined;
    }
}
/**
 * The named cloud of clouds.yaml (with the secure.yaml beside it, or OS_CLIENT_SECURE_FILE's),
 * as values of the inputs it stands for; its secrets are masked as soon as they are read. A
 * problem goes to `problems`.
 */
function loadCloud(name, env, problems, cwd = process.cwd(), home = (0,external_node_os_namespaceObject.homedir)()) {
    const values = new Map();
    const places = cloudsPlaces(env, cwd, home);
    const file = places.find((path) => (0,external_node_fs_namespaceObject.existsSync)(path));
    if (!file) {
        const unread = (0,external_node_fs_namespaceObject.existsSync)((0,external_node_path_namespaceObject.join)(cwd, 'clouds.yaml')) ? ' (./clouds.yaml, in the workspace, is read only when OS_CLIENT_CONFIG_FILE names it)' : '';
        problems.push(`${constants_Input.Cloud}: "${name}" was asked for (or OS_CLOUD), but there is no clouds.yaml in ${places.join(', ')}${unread}`);
        return values;
    }
    const yaml = parser();
    const files = [file, secureFile(env, cwd, file)].filter((path) => path !== undefined);
    const trees = files.map((path) => readFile(path, problems, yaml));
    if (trees.some((tree) => !tree))
        return values;
    log_log.info(log_t `Cloud "${name}" read from ${files.join(' and ')}`);
    const clouds = trees.reduce((under, over) => merge(under, over), {});
    const cloud = clouds[name];
    if (!isTree(cloud)) {
        problems.push(`${constants_Input.Cloud}: no cloud "${name}" in ${file}; it has: ${Object.keys(clouds).join(', ') || '(none)'}`);
        return values;
    }
    const sections = [
        [cloud, TOP_KEYS],
        [isTree(cloud.auth) ? cloud.auth : {}, AUTH_KEYS],
    ];
    for (const [section, keys] of sections) {
        for (const [key, input] of Object.entries(keys)) {
            const value = section[key];
            if (value === undefined || value === null || value === '')
                continue;
            if (typeof value !== 'string') {
                problems.push(`${constants_Input.Cloud}: ${key} of cloud "${name}" is a list or a mapping; give text`);
                continue;
            }
            if (SECRET_KEYS.has(key))
                lib_core/* setSecret */.Pq(value);
            values.set(input, key === 'verify' ? (NOT_VERIFY[value.toLowerCase()] ?? value) : value);
        }
    }
    return values;
}
/** The key of clouds.yaml each input stands for. */
const KEY_OF = Object.fromEntries(Object.entries({ ...TOP_KEYS, ...AUTH_KEYS }).map(([key, input]) => [input, key]));
/** `read` falling back to the cloud of `cloud` (or OS_CLOUD): inputs and OS_* win over the file, as in the openstack CLI. */
function withCloudsYaml(read, env, problems) {
    const name = cloudName(read);
    if (!name)
        return read;
    const cloud = loadCloud(name, env, problems);
    return Object.assign((input, ...envNames) => read(input, ...envNames) ?? cloud.get(input), {
        from: (input, ...envNames) => read(input, ...envNames) === undefined && cloud.has(input) ? `${KEY_OF[input]} of cloud "${name}" in clouds.yaml` : read.from(input, ...envNames),
    });
}

;// CONCATENATED MODULE: ./src/settings/credentials.ts




/** A URL as read, its credentials masked before anything can print it; as it may be shown. */
function masked(raw) {
    for (const secret of userinfoSecrets(raw))
        lib_core/* setSecret */.Pq(secret);
    return redactUrl(raw);
}
/** Warnings about a URL to be used: the credentials in it (`removed` says why they are not used), plain http to another machine (`exposed` then travel unencrypted). */
function warnUrl(from, raw, removed, exposed) {
    if (redactUrl(raw) !== raw)
        log_log.warning(log_t `${from}: the user name and password in the URL are not used ${removed}`);
    const url = new URL(withoutUserinfo(raw));
    if (url.protocol === 'http:' && !isLoopback(url))
        log_log.warning(log_t `${from} is http://${url.host}: ${exposed} travel unencrypted; use https`);
}
/** The credentials of the inputs (or OS_*), masked as soon as they are read; each problem goes to `problems`. */
function readCredentials(text, problems) {
    const rawAuthUrl = text(constants_Input.AuthUrl, 'OS_AUTH_URL');
    const from = text.from(constants_Input.AuthUrl, 'OS_AUTH_URL');
    // Credentials in the URL are masked before anything can print it, and never sent: Keystone v3 takes them in the body.
    const shown = rawAuthUrl && masked(rawAuthUrl);
    let authUrl;
    if (!rawAuthUrl) {
        problems.push(`${constants_Input.AuthUrl}: required (or OS_AUTH_URL), e.g. https://auth.cloud.ovh.net/v3`);
    }
    else if (!/^https?:\/\/[^/\s]+/i.test(rawAuthUrl) || !URL.canParse(rawAuthUrl)) {
        problems.push(`${from}: "${shown}" is not an http(s) URL; e.g. https://auth.cloud.ovh.net/v3`);
    }
    else if (/\/v2(\.0)?\/?$/.test(rawAuthUrl)) {
        problems.push(`${from}: "${shown}" is Keystone v2, which is gone; use the /v3 URL`);
    }
    else {
        const trimmed = withoutUserinfo(rawAuthUrl).replace(/\/+$/, '');
        authUrl = /\/v3$/.test(trimmed) ? trimmed : `${trimmed}/v3`;
        warnUrl(from, rawAuthUrl, '(Keystone v3 takes them in the request body) and were removed; give them as the username and password inputs', 'the password or secret, and every token,');
    }
    const read = (name) => text(name, ...(ENV[name] ?? []));
    const secrets = [constants_Input.ApplicationCredentialSecret, constants_Input.Password, constants_Input.Token, constants_Input.ClientSecret].map(read);
    // Masked before anything else can print them.
    for (const value of secrets)
        if (value)
            lib_core/* setSecret */.Pq(value);
    const [secret, password, token, clientSecret] = secrets;
    const credentialId = text(constants_Input.ApplicationCredentialId, 'OS_APPLICATION_CREDENTIAL_ID');
    const username = text(constants_Input.Username, 'OS_USERNAME');
    const authType = readAuthType(text, problems, { application: Boolean(credentialId || secret), token: Boolean(token && !username && !password) });
    const projectDomainId = text(constants_Input.ProjectDomainId, 'OS_PROJECT_DOMAIN_ID');
    const project = {
        projectId: text(constants_Input.ProjectId, 'OS_PROJECT_ID', 'OS_TENANT_ID'),
        projectName: text(constants_Input.ProjectName, 'OS_PROJECT_NAME', 'OS_TENANT_NAME'),
        projectDomainName: text(constants_Input.ProjectDomainName, 'OS_PROJECT_DOMAIN_NAME') ?? 'Default',
        ...(projectDomainId ? { projectDomainId } : {}),
    };
    const requireProject = (what) => {
        if (project.projectId || project.projectName)
            return true;
        problems.push(`${constants_Input.ProjectId} or ${constants_Input.ProjectName}: required for ${what} (or OS_PROJECT_ID / OS_TENANT_ID, OS_PROJECT_NAME / OS_TENANT_NAME)`);
        return false;
    };
    const required = (name, value, what) => {
        if (!value)
            problems.push(`${name}: required for ${what} (or ${ENV[name]?.[0]})`);
        return value;
    };
    switch (authType) {
        case undefined:
            return undefined;
        case 'application-credential': {
            if (!credentialId)
                problems.push(`${constants_Input.ApplicationCredentialId}: required with ${constants_Input.ApplicationCredentialSecret} (or OS_APPLICATION_CREDENTIAL_ID)`);
            if (!secret)
                problems.push(`${constants_Input.ApplicationCredentialSecret}: required with ${constants_Input.ApplicationCredentialId} (or OS_APPLICATION_CREDENTIAL_SECRET)`);
            return authUrl && credentialId && secret ? { method: 'application-credential', authUrl, id: credentialId, secret } : undefined;
        }
        case 'password': {
            if (!username)
                problems.push(`${constants_Input.Username}: required for password authentication (or OS_USERNAME); or give ${constants_Input.ApplicationCredentialId} and ${constants_Input.ApplicationCredentialSecret}`);
            if (!password)
                problems.push(`${constants_Input.Password}: required for password authentication (or OS_PASSWORD), from a secret`);
            const scoped = requireProject('password authentication');
            if (!authUrl || !username || !password || !scoped)
                return undefined;
            const userDomainId = text(constants_Input.UserDomainId, 'OS_USER_DOMAIN_ID');
            return {
                method: 'password',
                authUrl,
                username,
                password,
                userDomainName: text(constants_Input.UserDomainName, 'OS_USER_DOMAIN_NAME') ?? 'Default',
                ...(userDomainId ? { userDomainId } : {}),
                ...project,
            };
        }
        case 'token': {
            const given = required(constants_Input.Token, token, 'a token login');
            const scoped = requireProject('a token login');
            return authUrl && given && scoped ? { method: 'token', authUrl, token: given, ...project } : undefined;
        }
        case 'oidc-client-credentials':
        case 'github-oidc': {
            const identityProvider = required(constants_Input.IdentityProvider, read(constants_Input.IdentityProvider), authType);
            const protocol = text(constants_Input.Protocol, 'OS_PROTOCOL') ?? 'openid';
            const bearer = authType === 'github-oidc' ? githubBearer(text, problems, authUrl) : clientCredentials(text, problems, clientSecret);
            const scoped = requireProject(authType);
            return authUrl && identityProvider && bearer && scoped ? { method: 'federated', authUrl, identityProvider, protocol, bearer, ...project } : undefined;
        }
    }
}
/** The OS_* variable of each input `read` reads. */
const ENV = {
    [constants_Input.ApplicationCredentialSecret]: ['OS_APPLICATION_CREDENTIAL_SECRET'],
    [constants_Input.Password]: ['OS_PASSWORD'],
    [constants_Input.Token]: ['OS_TOKEN'],
    [constants_Input.ClientSecret]: ['OS_CLIENT_SECRET'],
    [constants_Input.IdentityProvider]: ['OS_IDENTITY_PROVIDER'],
};
/** The action's names and the openstack CLI's (OS_AUTH_TYPE) for each way to log in. */
const AUTH_TYPES = {
    password: 'password',
    v3password: 'password',
    'application-credential': 'application-credential',
    v3applicationcredential: 'application-credential',
    token: 'token',
    v3token: 'token',
    'oidc-client-credentials': 'oidc-client-credentials',
    v3oidcclientcredentials: 'oidc-client-credentials',
    'github-oidc': 'github-oidc',
};
/** The auth type asked for; unset, what the credentials given imply (as before there was a choice). */
function readAuthType(text, problems, given) {
    const raw = text(constants_Input.AuthType, 'OS_AUTH_TYPE');
    if (!raw)
        return given.application ? 'application-credential' : given.token ? 'token' : 'password';
    const type = AUTH_TYPES[raw.toLowerCase()];
    if (!type)
        problems.push(`${text.from(constants_Input.AuthType, 'OS_AUTH_TYPE')}: "${raw}" is not a login this action knows; use ${Object.keys(AUTH_TYPES).join(', ')}`);
    return type;
}
function clientCredentials(text, problems, clientSecret) {
    const what = 'oidc-client-credentials';
    const clientId = text(constants_Input.ClientId, 'OS_CLIENT_ID');
    if (!clientId)
        problems.push(`${constants_Input.ClientId}: required for ${what} (or OS_CLIENT_ID), the ID of the service account`);
    if (!clientSecret)
        problems.push(`${constants_Input.ClientSecret}: required for ${what} (or OS_CLIENT_SECRET), from a secret`);
    const discoveryEndpoint = issuerUrl(text, problems, constants_Input.DiscoveryEndpoint, 'OS_DISCOVERY_ENDPOINT');
    const tokenEndpoint = issuerUrl(text, problems, constants_Input.AccessTokenEndpoint, 'OS_ACCESS_TOKEN_ENDPOINT');
    if (!discoveryEndpoint && !tokenEndpoint) {
        problems.push(`${constants_Input.DiscoveryEndpoint}: required for ${what} (or OS_DISCOVERY_ENDPOINT), the issuer's .well-known/openid-configuration URL; or give ${constants_Input.AccessTokenEndpoint}`);
    }
    const tokenType = (text(constants_Input.AccessTokenType, 'OS_ACCESS_TOKEN_TYPE') ?? 'access_token').toLowerCase();
    if (tokenType !== 'access_token' && tokenType !== 'id_token') {
        problems.push(`${text.from(constants_Input.AccessTokenType, 'OS_ACCESS_TOKEN_TYPE')}: "${tokenType}" is not a token type; use access_token or id_token`);
    }
    if (!clientId || !clientSecret || (!discoveryEndpoint && !tokenEndpoint))
        return undefined;
    return {
        kind: 'oidc-client-credentials',
        clientId,
        clientSecret,
        ...(tokenEndpoint ? { tokenEndpoint } : { discoveryEndpoint }),
        scope: text(constants_Input.OpenidScope, 'OS_OPENID_SCOPE') ?? 'openid',
        tokenType: tokenType === 'id_token' ? 'id_token' : 'access_token',
    };
}
/** An endpoint of the OIDC issuer, without the credentials it may hold (masked at once: the client authenticates with its ID and secret). */
function issuerUrl(text, problems, name, envName) {
    const raw = text(name, envName);
    if (!raw)
        return undefined;
    const from = text.from(name, envName);
    const shown = masked(raw);
    if (!/^https?:\/\//i.test(raw) || !URL.canParse(raw))
        problems.push(`${from}: "${shown}" is not an http(s) URL`);
    else
        warnUrl(from, raw, `(the client authenticates with ${constants_Input.ClientId} and ${constants_Input.ClientSecret}) and were removed`, 'the client secret and every token');
    return withoutUserinfo(raw);
}
/** The permissions that let a job ask GitHub for an ID token: YAML on one line, as a problem is one line. */
const ID_TOKEN_PERMISSION = 'permissions: { id-token: write, contents: read }';
/** GitHub's OIDC token of this job, asked for at each login (the runner gives one only with id-token: write). */
function githubBearer(text, problems, authUrl) {
    if (!process.env.ACTIONS_ID_TOKEN_REQUEST_URL) {
        problems.push(`${constants_Input.AuthType}: github-oidc needs an ID token from GitHub, and this job may not ask for one; add to the job (or the workflow): ${ID_TOKEN_PERMISSION}`);
        return undefined;
    }
    // Default: the cloud's own Keystone, so that a token meant for one cloud is refused by any other.
    const audience = text(constants_Input.OidcAudience) ?? (authUrl ? new URL(authUrl).origin : undefined);
    if (!audience)
        return undefined;
    return { kind: 'external', subject: `GitHub's ID token of this job (audience ${audience})`, get: () => lib_core/* getIDToken */.V9(audience) };
}

;// CONCATENATED MODULE: ./src/settings/tls.ts






/** A CA bundle far bigger than any needs is refused before it is read (Mozilla's whole bundle is about 250 KiB). */
const tls_MAX_BYTES = 4 * 1024 * 1024;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
/**
 * How every request to the cloud checks its certificate, as the openstack CLI does: `cacert` (or
 * OS_CACERT, or clouds.yaml's `cacert`) is the bundle of CAs trusted, instead of the default ones;
 * `insecure` (or OS_INSECURE, or clouds.yaml's `verify: false`) checks nothing, and wins over cacert.
 * A problem goes to `problems`.
 */
function readTls(text, problems, cwd = process.cwd(), home = (0,external_node_os_namespaceObject.homedir)()) {
    const insecure = readInsecure(text, problems);
    const path = text(constants_Input.Cacert, 'OS_CACERT');
    const from = text.from(constants_Input.Cacert, 'OS_CACERT');
    if (insecure) {
        log_log.warning(log_t `${text.from(constants_Input.Insecure, 'OS_INSECURE')}: TLS certificates are not verified, so anyone in the network path can pose as the cloud and read the password, secrets and tokens sent to it; give the cloud's CA in ${constants_Input.Cacert} instead`);
        // The CLI's rule: insecure is the most aggressive setting, so it wins.
        if (path)
            log_log.warning(log_t `${from} is not used: ${constants_Input.Insecure} wins over it, as in the openstack CLI`);
        return { insecure };
    }
    return path ? { insecure, ca: readBundle(path.replace(/^~(?=$|\/)/, home), from, problems, cwd) } : { insecure };
}
function readInsecure(text, problems) {
    const raw = text(constants_Input.Insecure, 'OS_INSECURE');
    if (!raw || /^false$/i.test(raw))
        return false;
    if (/^true$/i.test(raw))
        return true;
    problems.push(`${text.from(constants_Input.Insecure, 'OS_INSECURE')}: "${raw}" is not a boolean; use true or false`);
    return false;
}
/** The PEM certificates of the bundle at `path`, each checked to be one; undefined and a problem when there is none. */
function readBundle(path, from, problems, cwd) {
    const file = (0,external_node_path_namespaceObject.resolve)(cwd, path);
    let pem;
    try {
        const read = readBoundedText(file, tls_MAX_BYTES);
        if ('refused' in read) {
            problems.push(`${from}: ${file} is ${read.refused === 'too big' ? 'over 4 MiB, more than any bundle of CA certificates needs' : 'not a regular file'}; give a PEM file of CA certificates`);
            return undefined;
        }
        pem = read.text;
    }
    catch (error) {
        const code = error.code;
        problems.push(`${from}: ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? error.message})`}; give a PEM file of CA certificates`);
        return undefined;
    }
    const certificates = pem.match(PEM_CERTIFICATE) ?? [];
    const unreadable = certificates.findIndex((certificate) => !parses(certificate));
    if (!certificates.length || unreadable >= 0) {
        problems.push(`${from}: ${file} ${certificates.length ? `has a certificate that cannot be read (#${unreadable + 1} of the file)` : 'has no certificate'}; give a PEM file of CA certificates (-----BEGIN CERTIFICATE----- …)`);
        return undefined;
    }
    return certificates.join('\n');
}
function parses(certificate) {
    try {
        new external_node_crypto_.X509Certificate(certificate);
        return true;
    }
    catch {
        return false;
    }
}

;// CONCATENATED MODULE: ./src/settings/common.ts





const INTERFACES = ['public', 'internal', 'admin'];
const DEFAULT_RATE_LIMIT = 10;
/** An input under its name before the renames is a problem, never ignored. */
function renamedInputs() {
    // Given at all (even empty, e.g. an output of a step that made none): it is a with: key of the workflow.
    return Object.entries(RENAMED_INPUTS)
        .filter(([old]) => process.env[`INPUT_${old.toUpperCase()}`] !== undefined)
        .map(([old, now]) => `${old} was renamed ${now}; give it as ${now} (the old name is not read)`);
}
function readMode(problems) {
    const modeText = (lib_core/* getInput */.V4(constants_Input.Mode) || 'create').toLowerCase();
    const mode = MODES.find((m) => m === modeText);
    if (!mode)
        problems.push(`${constants_Input.Mode}: "${modeText}" is not a mode; use ${MODES.slice(0, -1).join(', ')} or ${MODES.at(-1)}`);
    return mode;
}
/** The cloud to talk to: region, endpoint interface, login and TLS (undefined when one of them is missing or wrong). */
function readCloud(text, problems) {
    const region = text(constants_Input.Region, 'OS_REGION_NAME');
    if (!region)
        problems.push(`${constants_Input.Region}: required (or OS_REGION_NAME), e.g. GRA11; the error after authentication lists the project's regions`);
    const ifaceNames = [constants_Input.Interface, 'OS_INTERFACE', 'OS_ENDPOINT_TYPE'];
    const ifaceText = (text(...ifaceNames) ?? 'public').toLowerCase().replace(/url$/, '');
    const iface = INTERFACES.find((i) => i === ifaceText);
    if (!iface)
        problems.push(`${text.from(...ifaceNames)}: "${ifaceText}" is not an endpoint interface; use public, internal or admin`);
    const credentials = readCredentials(text, problems);
    const tls = readTls(text, problems);
    return region && iface && credentials ? { region, iface, credentials, tls } : undefined;
}
/** The limits of the run: the proxy (checked, its password masked), the request-rate ceiling, and dry-run. */
function readLimits(env, bool, problems) {
    // The proxy's password is masked before the proxy is used or any problem is shown.
    for (const name of PROXY_VARIABLES)
        for (const secret of userinfoSecrets(env[name] ?? ''))
            lib_core/* setSecret */.Pq(secret);
    problems.push(...proxyProblems(env));
    const rateLimit = Number(lib_core/* getInput */.V4(constants_Input.RateLimit) || DEFAULT_RATE_LIMIT);
    if (!Number.isFinite(rateLimit) || rateLimit < 0)
        problems.push(`${constants_Input.RateLimit}: "${lib_core/* getInput */.V4(constants_Input.RateLimit)}" is not valid; use requests per second (e.g. 10), or 0 for no ceiling`);
    return { rateLimit, dryRun: bool(constants_Input.DryRun, false) };
}

;// CONCATENATED MODULE: ./src/settings/readers.ts



/**
 * Readers of the action's inputs that gather every problem in `problems` (each names the input
 * and what would be valid) instead of stopping at the first.
 */
function inputReader(env, problems) {
    /** Where `text` finds a value: the input, else the first of these OS_* variables that is set. */
    const origin = (name, ...envNames) => (lib_core/* getInput */.V4(name) ? name : envNames.find((n) => env[n]?.trim()));
    const text = Object.assign((name, ...envNames) => {
        const from = origin(name, ...envNames);
        return from === name ? lib_core/* getInput */.V4(name) : from && env[from]?.trim();
    }, { from: (name, ...envNames) => origin(name, ...envNames) ?? name });
    const bool = (name, fallback) => {
        if (!lib_core/* getInput */.V4(name))
            return fallback;
        try {
            return lib_core/* getBooleanInput */.Vt(name);
        }
        catch {
            problems.push(`${name}: "${lib_core/* getInput */.V4(name)}" is not a boolean; use true or false`);
            return fallback;
        }
    };
    const integer = (name, fallback, min, max = Number.MAX_SAFE_INTEGER) => {
        const raw = lib_core/* getInput */.V4(name);
        if (!raw)
            return fallback;
        const value = Number(raw);
        if (!/^[+]?\d+$/.test(raw) || value < min || value > max) {
            problems.push(`${name}: "${raw}" is not valid; use a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}`);
            return fallback;
        }
        return value;
    };
    const duration = (name, raw) => {
        if (!raw)
            return undefined;
        try {
            return parseDuration(raw);
        }
        catch (error) {
            problems.push(`${name}: ${error.message}`);
            return undefined;
        }
    };
    return { text, bool, integer, duration };
}
const POLICY_INPUTS = [
    [constants_Input.KeepLast, 'last'],
    [constants_Input.KeepHourly, 'hourly'],
    [constants_Input.KeepDaily, 'daily'],
    [constants_Input.KeepWeekly, 'weekly'],
    [constants_Input.KeepMonthly, 'monthly'],
    [constants_Input.KeepYearly, 'yearly'],
];
/** The keep-* inputs as a policy, and whether any was given (a keep-* given but invalid is reported as such, not also as "no policy"). */
function readPolicy(integer, duration) {
    const policy = {};
    for (const [name, key] of POLICY_INPUTS) {
        const value = integer(name, undefined, 1);
        if (value !== undefined)
            policy[key] = value;
    }
    const within = duration(constants_Input.KeepWithin, lib_core/* getInput */.V4(constants_Input.KeepWithin) || undefined);
    if (within !== undefined)
        policy.within = within;
    // It only keeps: a policy still needs one of the others.
    const verified = integer(constants_Input.KeepVerified, undefined, 1);
    if (verified !== undefined)
        policy.verified = verified;
    const hasPolicy = [...POLICY_INPUTS.map(([name]) => name), constants_Input.KeepWithin].some((name) => lib_core/* getInput */.V4(name));
    return { policy, hasPolicy };
}

;// CONCATENATED MODULE: ./src/settings/regions.ts


const LINE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/**
 * copy-to-region: one region a line (blank lines and surrounding spaces ignored); undefined when
 * not given. A list given but empty, a name twice or a name no region can have are problems.
 */
function readCopyRegions(problems) {
    const raw = process.env[`INPUT_${constants_Input.CopyToRegion.toUpperCase()}`];
    if (raw === undefined || raw === '')
        return undefined;
    const regions = lib_core/* getMultilineInput */.q3(constants_Input.CopyToRegion)
        .map((line) => line.trim())
        .filter(Boolean);
    if (!regions.length) {
        problems.push(`${constants_Input.CopyToRegion}: is blank; give the regions to copy the snapshot to, one a line (e.g. SBG5), or leave the input out`);
        return undefined;
    }
    for (const region of regions)
        if (!LINE.test(region))
            problems.push(`${constants_Input.CopyToRegion}: "${region}" is not a region name; give one region a line (e.g. SBG5)`);
    const twice = [...new Set(regions.filter((region, i) => regions.indexOf(region) !== i))];
    if (twice.length)
        problems.push(`${constants_Input.CopyToRegion}: ${twice.join(', ')} given more than once; give each region once`);
    return [...new Set(regions)];
}

;// CONCATENATED MODULE: ./src/settings/inputs.ts









const DEFAULTS = { timeout: '2h', uploadTimeout: '6h', maxDeletes: 100, concurrency: 4 };
const ID_AND_NAME = `${constants_Input.SnapshotId} and ${constants_Input.SnapshotName}: give one of them, not both (the ID alone is exact)`;
/** Every mode's inputs, each checked on its own whatever the mode (which only words a blank one's problem, and says whether a policy applies). */
function readInputs(mode, { bool, integer, duration }, problems, env) {
    const instance = lib_core/* getInput */.V4(constants_Input.Instance) || undefined;
    // Given but blank (an empty secret or expression): read as "no instance", it would widen a prune to the project.
    if (!instance && process.env[`INPUT_${constants_Input.Instance.toUpperCase()}`]?.length) {
        problems.push(`${constants_Input.Instance}: is blank; give an instance name or ID${mode === 'create' ? '' : ', or leave the input out to cover every instance'}`);
    }
    const servers = readSelection(problems, bool);
    const snapshotName = lib_core/* getInput */.V4(constants_Input.SnapshotName) || undefined;
    // The runner passes an input that was not given as "": only a blank one that is not empty can be told from it.
    if (!snapshotName && process.env[`INPUT_${constants_Input.SnapshotName.toUpperCase().replace(/ /g, '_')}`]?.length) {
        problems.push(`${constants_Input.SnapshotName}: is blank; give a name${mode === 'prune' ? ' or a glob, or leave the input out to cover every name' : mode === 'create' ? ' template, or leave the input out for the default {instance}-{timestamp}' : ''}`);
    }
    const imageId = lib_core/* getInput */.V4(constants_Input.SnapshotId) || undefined;
    if (imageId && !isUuid(imageId))
        problems.push(`${constants_Input.SnapshotId}: "${imageId}" is not a snapshot ID; give the UUID of the snapshot (e.g. from the ${constants_Output.SnapshotId} output of mode create, or openstack image list)`);
    const timeoutMs = duration(constants_Input.Timeout, lib_core/* getInput */.V4(constants_Input.Timeout) || DEFAULTS.timeout) ?? 0;
    const { metadata, problems: metadataProblems } = parseMetadata(lib_core/* getInput */.V4(constants_Input.SnapshotProperties), 'image', [
        ...Object.values(constants_Property),
        ...PROVENANCE_KEYS,
    ]);
    problems.push(...metadataProblems.map((p) => `${constants_Input.SnapshotProperties}: ${p}`));
    const { policy, hasPolicy } = readPolicy(integer, duration);
    const concurrency = integer(constants_Input.MaxParallel, DEFAULTS.concurrency, 1, 32) ?? DEFAULTS.concurrency;
    // Read (and checked) only where a policy applies: mode prune, and create with keep-*.
    const retention = mode === 'prune' || ((mode === 'create' || mode === 'copy') && hasPolicy)
        ? {
            policy,
            includeUnmanaged: bool(constants_Input.IncludeUnmanaged, false),
            maxDeletes: integer(constants_Input.MaxDeletes, DEFAULTS.maxDeletes, 1) ?? DEFAULTS.maxDeletes,
            concurrency,
        }
        : undefined;
    const copyToRegion = readCopyRegions(problems);
    const waitText = lib_core/* getInput */.V4(constants_Input.Wait);
    const captured = waitText.toLowerCase() === constants_WAIT_CAPTURED;
    // The runner's booleans (true, True, TRUE, false…), or captured.
    const wait = captured || !/^(false|False|FALSE)$/.test(waitText);
    if (!captured && waitText && !/^(true|True|TRUE|false|False|FALSE)$/.test(waitText))
        problems.push(`${constants_Input.Wait}: "${waitText}" is not a boolean; use true or false, or ${constants_WAIT_CAPTURED} (until each disk is captured; the post step waits for active)`);
    return {
        instance,
        servers,
        snapshotName,
        imageId,
        timeoutMs,
        metadata,
        /** A keep-* input was given (a keep-* given but invalid is reported as such, not also as "no policy"). */
        hasPolicy,
        concurrency,
        retention,
        wait,
        /** wait: captured. */
        captured,
        uploadTimeoutMs: duration(constants_Input.UploadTimeout, lib_core/* getInput */.V4(constants_Input.UploadTimeout) || DEFAULTS.uploadTimeout) ?? 0,
        step: readStepKey(env),
        deleteInUse: bool(constants_Input.DeleteInUse, false),
        ignoreMissing: bool(constants_Input.IgnoreMissing, false),
        allowOtherInstance: bool(constants_Input.AllowOtherInstance, false),
        snapshotBefore: bool(constants_Input.SnapshotBefore, false),
        ...readVerifyInputs(problems, bool),
        /** copy-to-region: the regions to copy to (modes create and copy). */
        copyToRegion,
    };
}
/** verify-flavor, verify-network, verify-console and verify: how a throwaway server is booted from a snapshot, and what it must print. */
function readVerifyInputs(problems, bool) {
    const verifyFlavor = lib_core/* getInput */.V4(constants_Input.VerifyFlavor) || undefined;
    const verifyNetwork = lib_core/* getInput */.V4(constants_Input.VerifyNetwork) || undefined;
    if (verifyNetwork && !isUuid(verifyNetwork))
        problems.push(`${constants_Input.VerifyNetwork}: "${verifyNetwork}" is not a network ID; give the UUID of the network (openstack network list), or leave it out to boot with no network`);
    const consoleText = lib_core/* getInput */.V4(constants_Input.VerifyConsole) || undefined;
    let verifyConsole;
    try {
        verifyConsole = consoleText === undefined ? undefined : new RegExp(consoleText);
    }
    catch (error) {
        problems.push(`${constants_Input.VerifyConsole}: "${consoleText}" is not a regular expression (${error.message})`);
    }
    return { verifyFlavor, verifyNetwork, verifyConsole, verify: bool(constants_Input.Verify, false), keepVerifiedGiven: !!lib_core/* getInput */.V4(constants_Input.KeepVerified) };
}
/**
 * The inputs of one mode alone, refused in the others; returns stop-instance, read here (after
 * the mode's rules) where its problem has always come.
 */
function oneModeInputs(mode, inputs, bool, problems) {
    if (mode !== 'restore') {
        if (inputs.allowOtherInstance)
            problems.push(`${constants_Input.AllowOtherInstance}: only for mode restore`);
        if (inputs.snapshotBefore)
            problems.push(`${constants_Input.SnapshotBefore}: only for mode restore`);
    }
    if (mode !== 'verify' && !(mode === 'create' && inputs.verify)) {
        for (const [name, given] of [
            [constants_Input.VerifyFlavor, inputs.verifyFlavor],
            [constants_Input.VerifyNetwork, inputs.verifyNetwork],
            [constants_Input.VerifyConsole, inputs.verifyConsole],
        ])
            if (given)
                problems.push(`${name}: only for mode verify, and mode create with ${constants_Input.Verify}: true`);
    }
    if (mode !== 'create' && inputs.verify)
        problems.push(`${constants_Input.Verify}: only for mode create (mode verify boots the snapshots it selects)`);
    if (mode !== 'prune' && mode !== 'create' && inputs.keepVerifiedGiven)
        problems.push(`${constants_Input.KeepVerified}: only for modes prune and create (with keep-*)`);
    if (mode !== 'create' && mode !== 'copy' && inputs.copyToRegion)
        problems.push(`${constants_Input.CopyToRegion}: only for modes create and copy`);
    const stopInstance = bool(constants_Input.StopInstance, false);
    if (mode !== 'create' && stopInstance)
        problems.push(`${constants_Input.StopInstance}: only for mode create`);
    if (mode !== 'delete' && inputs.deleteInUse)
        problems.push(`${constants_Input.DeleteInUse}: only for mode delete; prune and create never delete a snapshot in use`);
    return stopInstance;
}
/** A value the checks have made sure of (each missing one is a problem reported before the settings are built). */
function validated(value) {
    if (value === undefined)
        throw new Error('internal: a required input passed validation without a value');
    return value;
}

;// CONCATENATED MODULE: ./src/settings/copy.ts



/** A copy into the region the snapshot is in would be a second image of the same data there. */
function copyRegionProblems(regions, source) {
    const same = source ? regions?.filter((region) => region.toLowerCase() === source.toLowerCase()) : undefined;
    return same?.length
        ? [`${constants_Input.CopyToRegion}: ${same.join(', ')} is the region the snapshot is in (${constants_Input.Region}); give only other regions to copy it to`]
        : [];
}
/** copy-to-region's plan: mode copy's, and create's. */
const copyPlan = ({ copyToRegion, timeoutMs, retention }) => ({
    regions: copyToRegion ?? [],
    timeoutMs,
    ...(retention ? { retention } : {}),
});
const copyRules = {
    check({ imageId, snapshotName, servers, copyToRegion, instance }, problems) {
        // Given but blank is its own problem (regions.ts).
        if (!copyToRegion && !process.env[`INPUT_${constants_Input.CopyToRegion.toUpperCase()}`]?.length)
            problems.push(`${constants_Input.CopyToRegion}: required for mode copy: the regions to copy the snapshot to, one a line (e.g. SBG5)`);
        if (imageId && snapshotName)
            problems.push(ID_AND_NAME);
        const given = servers.names.length > 0 || selection_hasSelector(servers);
        if (imageId && (given || instance))
            problems.push(`${constants_Input.SnapshotId} and ${constants_Input.Instance} / ${constants_Input.InstanceTags} / ${constants_Input.InstanceMetadata}: give the snapshot's ID, or the instances whose newest snapshot to copy, not both`);
        if (!imageId && !given && !process.env[`INPUT_${constants_Input.Instance.toUpperCase()}`]?.length)
            problems.push(`${constants_Input.SnapshotId} or ${constants_Input.Instance}: mode copy needs the snapshot's ID, or the instances (${constants_Input.Instance}, ${constants_Input.InstanceTags}, ${constants_Input.InstanceMetadata}) whose newest snapshot made by this action to copy`);
    },
    settings: (inputs) => ({
        mode: 'copy',
        copy: copyPlan(inputs),
        source: inputs.imageId ? { imageId: inputs.imageId } : { servers: inputs.servers, ...(inputs.snapshotName ? { nameGlob: inputs.snapshotName } : {}) },
        concurrency: inputs.concurrency,
    }),
};
/** create with copy-to-region: the copies are made once the snapshot is active, so the step waits for it. */
function createCopyProblems({ copyToRegion, wait, captured }) {
    if (!copyToRegion || (wait && !captured))
        return [];
    return [
        `${constants_Input.Wait}: ${constants_Input.CopyToRegion} copies the snapshot once it is active, so it needs wait: true (not false${captured ? `, nor ${constants_WAIT_CAPTURED}` : ''})`,
    ];
}

;// CONCATENATED MODULE: ./src/settings/restore.ts


/** snapshot-id, else snapshot-name exactly, else the newest (of the names a glob matches): restore's and verify's choice. */
const snapshotChoice = (imageId, snapshotName) => imageId
    ? { imageId }
    : snapshotName && !hasWildcard(snapshotName)
        ? { name: snapshotName }
        : { newest: true, ...(snapshotName ? { nameGlob: snapshotName } : {}) };
const restoreRules = {
    check({ imageId, snapshotName, hasPolicy }, problems) {
        if (imageId && snapshotName)
            problems.push(ID_AND_NAME);
        if (hasPolicy)
            problems.push(`keep-*: retention inputs are for modes prune and create; mode restore deletes nothing`);
    },
    settings: ({ servers, concurrency, imageId, snapshotName, allowOtherInstance, snapshotBefore, timeoutMs }) => ({
        mode: 'restore',
        servers,
        concurrency,
        snapshot: snapshotChoice(imageId, snapshotName),
        allowOtherInstance,
        snapshotBefore,
        timeoutMs,
    }),
};

;// CONCATENATED MODULE: ./src/settings/verify.ts


/** What verify-flavor, verify-network and verify-console ask of the throwaway (mode verify's, and create's with verify: true). */
const throwawayPlan = ({ verifyFlavor, verifyNetwork, verifyConsole }) => ({
    ...(verifyFlavor ? { flavor: verifyFlavor } : {}),
    ...(verifyNetwork ? { networkId: verifyNetwork } : {}),
    ...(verifyConsole ? { console: verifyConsole } : {}),
});
const verifyRules = {
    check({ imageId, snapshotName, hasPolicy }, problems) {
        if (imageId && snapshotName)
            problems.push(ID_AND_NAME);
        if (hasPolicy)
            problems.push(`keep-*: retention inputs are for modes prune and create; mode verify deletes no snapshot`);
    },
    settings: (inputs) => ({
        mode: 'verify',
        servers: inputs.servers,
        concurrency: inputs.concurrency,
        snapshot: snapshotChoice(inputs.imageId, inputs.snapshotName),
        allowOtherInstance: false,
        timeoutMs: inputs.timeoutMs,
        ...throwawayPlan(inputs),
    }),
};

;// CONCATENATED MODULE: ./src/settings/create.ts




const createRules = {
    check({ imageId, snapshotName, hasPolicy, wait, captured, verify, copyToRegion }, problems) {
        if (verify && (!wait || captured))
            problems.push(`${constants_Input.Verify}: boots the snapshot once it is active, so it needs wait: true`);
        problems.push(...createCopyProblems({ copyToRegion, wait, captured }));
        if (imageId)
            problems.push(`${constants_Input.SnapshotId}: only for modes delete, restore, copy and verify; mode create makes a new snapshot`);
        problems.push(...templateProblems(snapshotName ?? DEFAULT_NAME_TEMPLATE).map((p) => `${constants_Input.SnapshotName}: ${p}`));
        if (hasPolicy && !wait)
            problems.push(`${constants_Input.Wait}: keep-* inputs prune only after the new snapshot is active, so they need wait: true (or ${constants_WAIT_CAPTURED}: the post step prunes)`);
    },
    settings: ({ servers, concurrency, snapshotName, metadata, wait, captured, uploadTimeoutMs, step, timeoutMs, retention, verify, verifyFlavor, verifyNetwork, verifyConsole, copyToRegion, }, stopInstance) => ({
        mode: 'create',
        servers,
        stopInstance,
        concurrency,
        template: snapshotName ?? DEFAULT_NAME_TEMPLATE,
        metadata,
        wait,
        ...(captured ? { captured, uploadTimeoutMs } : {}),
        ...(step ? { step } : {}),
        timeoutMs,
        ...(retention ? { retention } : {}),
        ...(verify ? { verify: throwawayPlan({ verifyFlavor, verifyNetwork, verifyConsole }) } : {}),
        ...(copyToRegion ? { copy: copyPlan({ copyToRegion, timeoutMs, retention }) } : {}),
    }),
};

;// CONCATENATED MODULE: ./src/settings/delete.ts


const deleteRules = {
    check({ imageId, snapshotName, hasPolicy }, problems) {
        if (!imageId && !snapshotName)
            problems.push(`${constants_Input.SnapshotId} or ${constants_Input.SnapshotName}: mode delete needs the ID or the exact name of the snapshot to delete`);
        if (imageId && snapshotName)
            problems.push(ID_AND_NAME);
        if (hasPolicy)
            problems.push(`keep-*: retention inputs are for modes prune and create; mode delete deletes one snapshot`);
    },
    settings: ({ imageId, snapshotName, instance, ignoreMissing, deleteInUse }) => ({
        mode: 'delete',
        target: imageId ? { imageId } : { name: validated(snapshotName) },
        instance,
        ignoreMissing,
        deleteInUse,
    }),
};

;// CONCATENATED MODULE: ./src/settings/prune.ts


const pruneRules = {
    check({ hasPolicy, imageId }, problems) {
        if (!hasPolicy) {
            problems.push(`keep-last, keep-within, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly: mode prune needs at least one (no policy would delete everything)`);
        }
        if (imageId)
            problems.push(`${constants_Input.SnapshotId}: only for modes delete, restore, copy and verify; prune selects by instance and snapshot-name`);
    },
    settings: ({ instance, snapshotName, retention }) => ({ mode: 'prune', instance, nameGlob: snapshotName, retention: validated(retention) }),
};

;// CONCATENATED MODULE: ./src/settings/settings.ts













class SettingsError extends Error {
    name = 'SettingsError';
    problems;
    constructor(problems) {
        super(`Invalid input${problems.length > 1 ? 's' : ''}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
        this.problems = problems;
    }
}
/** Each mode's rules, and its part of the settings (settings/<mode>.ts). */
const settings_RULES = { create: createRules, delete: deleteRules, prune: pruneRules, restore: restoreRules, verify: verifyRules, copy: copyRules };
/**
 * readSettings, the YAML parser loaded first when a clouds.yaml is to be read (the `cloud` input
 * or OS_CLOUD names a cloud): most runs read none, and in dist/ the parser is a chunk of its own.
 */
async function loadSettings(env = process.env) {
    if (cloudName(inputReader(env, []).text))
        await loadYamlParser();
    return readSettings(env);
}
/**
 * Every input, with the openrc `OS_*` variables as fallbacks for the cloud ones, into one
 * validated object. All problems are gathered and reported together, in this order; nothing
 * here talks to the cloud. Secrets are masked as soon as they are read.
 */
function readSettings(env = process.env) {
    const problems = [];
    const read = inputReader(env, problems);
    // clouds.yaml fills in what the inputs and OS_* leave out (region and interface too).
    const text = withCloudsYaml(read.text, env, problems);
    problems.push(...renamedInputs());
    const mode = readMode(problems);
    const cloud = readCloud(text, problems);
    const inputs = readInputs(mode, read, problems, env);
    const { imageId, snapshotName } = inputs;
    // A snapshot named exactly is one server's.
    problems.push(...selectionProblems(mode, inputs.servers, !!imageId || (!!snapshotName && !hasWildcard(snapshotName))));
    const rules = mode && settings_RULES[mode];
    rules?.check(inputs, problems);
    problems.push(...copyRegionProblems(inputs.copyToRegion, cloud?.region));
    const stopInstance = oneModeInputs(mode, inputs, read.bool, problems);
    const limits = readLimits(env, read.bool, problems);
    if (problems.length || !rules || !cloud)
        throw new SettingsError(problems);
    return { ...cloud, ...limits, provenance: readProvenance(env), ...rules.settings(inputs, stopInstance) };
}

;// CONCATENATED MODULE: ./src/post.ts









/**
 * The post step (runs.post), at the end of the job: finish what the main step left running
 * (wait: captured), from GITHUB_STATE (IDs only: it logs in again), report it, and fail the job
 * when an upload failed.
 */
async function post() {
    let pending;
    try {
        pending = decodePending(lib_core/* getState */.Gu(PENDING_STATE));
    }
    catch (error) {
        log_log.fail(log_t `Post step: ${error}`);
        return;
    }
    if (!pending.length) {
        log_log.info(log_t `Post step: no snapshot was left uploading (${constants_Input.Wait}: captured): nothing to do`);
        return;
    }
    // The main step read these inputs without a problem: they are the same now.
    let settings;
    try {
        settings = await loadSettings();
    }
    catch (error) {
        log_log.fail(log_t `Post step: ${error}`);
        return;
    }
    if (settings.mode !== 'create') {
        log_log.fail(log_t `Post step: snapshots were left uploading, but the mode is ${settings.mode}`);
        return;
    }
    const cloud = openCloud(settings);
    const outcome = await finishUploads(cloud, settings, pending).catch((error) => ({
        failure: new outcome_StepError(outcome_explain(error, settings)),
    }));
    await reportPost(outcome, cloud.requests).catch((error) => log_log.warning(log_t `The job summary could not be written: ${error}`));
    if (outcome.failure)
        log_log.fail(log_t `${outcome.failure.message}`);
    else
        log_log.info(log_t `Post step done with ${cloud.requests} API requests`);
}


/***/ }),

/***/ 2613:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("assert");

/***/ }),

/***/ 181:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("buffer");

/***/ }),

/***/ 4434:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("events");

/***/ }),

/***/ 8611:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("http");

/***/ }),

/***/ 5692:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("https");

/***/ }),

/***/ 9278:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("net");

/***/ }),

/***/ 4589:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:assert");

/***/ }),

/***/ 6698:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:async_hooks");

/***/ }),

/***/ 4573:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:buffer");

/***/ }),

/***/ 7540:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:console");

/***/ }),

/***/ 7598:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:crypto");

/***/ }),

/***/ 3053:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:diagnostics_channel");

/***/ }),

/***/ 610:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:dns");

/***/ }),

/***/ 8474:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:events");

/***/ }),

/***/ 7067:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:http");

/***/ }),

/***/ 2467:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:http2");

/***/ }),

/***/ 7030:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:net");

/***/ }),

/***/ 643:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:perf_hooks");

/***/ }),

/***/ 1792:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:querystring");

/***/ }),

/***/ 7075:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:stream");

/***/ }),

/***/ 1692:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:tls");

/***/ }),

/***/ 3136:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:url");

/***/ }),

/***/ 7975:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:util");

/***/ }),

/***/ 3429:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:util/types");

/***/ }),

/***/ 5919:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:worker_threads");

/***/ }),

/***/ 8522:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:zlib");

/***/ }),

/***/ 932:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("process");

/***/ }),

/***/ 3193:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("string_decoder");

/***/ }),

/***/ 4756:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("tls");

/***/ }),

/***/ 9023:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("util");

/***/ }),

/***/ 5658:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  Yz: () => (/* binding */ debug),
  N4: () => (/* binding */ endGroup),
  Vt: () => (/* binding */ getBooleanInput),
  V9: () => (/* binding */ getIDToken),
  V4: () => (/* binding */ getInput),
  q3: () => (/* binding */ getMultilineInput),
  Gu: () => (/* binding */ getState),
  pq: () => (/* binding */ info),
  lm: () => (/* binding */ notice),
  C1: () => (/* binding */ setFailed),
  uH: () => (/* binding */ setOutput),
  Pq: () => (/* binding */ setSecret),
  Oh: () => (/* binding */ startGroup),
  z: () => (/* reexport */ summary),
  $e: () => (/* binding */ warning)
});

// UNUSED EXPORTS: ExitCode, addPath, error, exportVariable, group, isDebug, markdownSummary, platform, saveState, setCommandEcho, toPlatformPath, toPosixPath, toWin32Path

;// CONCATENATED MODULE: external "os"
const external_os_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("os");
;// CONCATENATED MODULE: ./node_modules/@actions/core/lib/utils.js
// We use any as a valid input type
/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Sanitizes an input into a string so it can be passed into issueCommand safely
 * @param input input to sanitize into a string
 */
function utils_toCommandValue(input) {
    if (input === null || input === undefined) {
        return '';
    }
    else if (typeof input === 'string' || input instanceof String) {
        return input;
    }
    return JSON.stringify(input);
}
/**
 *
 * @param annotationProperties
 * @returns The command properties to send with the actual annotation command
 * See IssueCommandProperties: https://github.com/actions/runner/blob/main/src/Runner.Worker/ActionCommandManager.cs#L646
 */
function toCommandProperties(annotationProperties) {
    if (!Object.keys(annotationProperties).length) {
        return {};
    }
    return {
        title: annotationProperties.title,
        file: annotationProperties.file,
        line: annotationProperties.startLine,
        endLine: annotationProperties.endLine,
        col: annotationProperties.startColumn,
        endColumn: annotationProperties.endColumn
    };
}
//# sourceMappingURL=utils.js.map
;// CONCATENATED MODULE: ./node_modules/@actions/core/lib/command.js


/**
 * Issues a command to the GitHub Actions runner
 *
 * @param command - The command name to issue
 * @param properties - Additional properties for the command (key-value pairs)
 * @param message - The message to include with the command
 * @remarks
 * This function outputs a specially formatted string to stdout that the Actions
 * runner interprets as a command. These commands can control workflow behavior,
 * set outputs, create annotations, mask values, and more.
 *
 * Command Format:
 *   ::name key=value,key=value::message
 *
 * @example
 * ```typescript
 * // Issue a warning annotation
 * issueCommand('warning', {}, 'This is a warning message');
 * // Output: ::warning::This is a warning message
 *
 * // Set an environment variable
 * issueCommand('set-env', { name: 'MY_VAR' }, 'some value');
 * // Output: ::set-env name=MY_VAR::some value
 *
 * // Add a secret mask
 * issueCommand('add-mask', {}, 'secretValue123');
 * // Output: ::add-mask::secretValue123
 * ```
 *
 * @internal
 * This is an internal utility function that powers the public API functions
 * such as setSecret, warning, error, and exportVariable.
 */
function command_issueCommand(command, properties, message) {
    const cmd = new Command(command, properties, message);
    process.stdout.write(cmd.toString() + external_os_namespaceObject.EOL);
}
function command_issue(name, message = '') {
    command_issueCommand(name, {}, message);
}
const CMD_STRING = '::';
class Command {
    constructor(command, properties, message) {
        if (!command) {
            command = 'missing.command';
        }
        this.command = command;
        this.properties = properties;
        this.message = message;
    }
    toString() {
        let cmdStr = CMD_STRING + this.command;
        if (this.properties && Object.keys(this.properties).length > 0) {
            cmdStr += ' ';
            let first = true;
            for (const key in this.properties) {
                if (this.properties.hasOwnProperty(key)) {
                    const val = this.properties[key];
                    if (val) {
                        if (first) {
                            first = false;
                        }
                        else {
                            cmdStr += ',';
                        }
                        cmdStr += `${key}=${escapeProperty(val)}`;
                    }
                }
            }
        }
        cmdStr += `${CMD_STRING}${escapeData(this.message)}`;
        return cmdStr;
    }
}
function escapeData(s) {
    return utils_toCommandValue(s)
        .replace(/%/g, '%25')
        .replace(/\r/g, '%0D')
        .replace(/\n/g, '%0A');
}
function escapeProperty(s) {
    return utils_toCommandValue(s)
        .replace(/%/g, '%25')
        .replace(/\r/g, '%0D')
        .replace(/\n/g, '%0A')
        .replace(/:/g, '%3A')
        .replace(/,/g, '%2C');
}
//# sourceMappingURL=command.js.map
;// CONCATENATED MODULE: external "crypto"
const external_crypto_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("crypto");
;// CONCATENATED MODULE: external "fs"
const external_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("fs");
;// CONCATENATED MODULE: ./node_modules/@actions/core/lib/file-command.js
// For internal use, subject to change.
// We use any as a valid input type
/* eslint-disable @typescript-eslint/no-explicit-any */




function file_command_issueFileCommand(command, message) {
    const filePath = process.env[`GITHUB_${command}`];
    if (!filePath) {
        throw new Error(`Unable to find environment variable for file command ${command}`);
    }
    if (!external_fs_namespaceObject.existsSync(filePath)) {
        throw new Error(`Missing file at path: ${filePath}`);
    }
    external_fs_namespaceObject.appendFileSync(filePath, `${utils_toCommandValue(message)}${external_os_namespaceObject.EOL}`, {
        encoding: 'utf8'
    });
}
function file_command_prepareKeyValueMessage(key, value) {
    const delimiter = `ghadelimiter_${external_crypto_namespaceObject.randomUUID()}`;
    const convertedValue = utils_toCommandValue(value);
    // These should realistically never happen, but just in case someone finds a
    // way to exploit uuid generation let's not allow keys or values that contain
    // the delimiter.
    if (key.includes(delimiter)) {
        throw new Error(`Unexpected input: name should not contain the delimiter "${delimiter}"`);
    }
    if (convertedValue.includes(delimiter)) {
        throw new Error(`Unexpected input: value should not contain the delimiter "${delimiter}"`);
    }
    return `${key}<<${delimiter}${external_os_namespaceObject.EOL}${convertedValue}${external_os_namespaceObject.EOL}${delimiter}`;
}
//# sourceMappingURL=file-command.js.map
;// CONCATENATED MODULE: external "path"
const external_path_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("path");
;// CONCATENATED MODULE: ./node_modules/@actions/core/lib/summary.js
var __awaiter = (undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};


const { access, appendFile, writeFile } = external_fs_namespaceObject.promises;
const SUMMARY_ENV_VAR = 'GITHUB_STEP_SUMMARY';
const SUMMARY_DOCS_URL = 'https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions#adding-a-job-summary';
class Summary {
    constructor() {
        this._buffer = '';
    }
    /**
     * Finds the summary file path from the environment, rejects if env var is not found or file does not exist
     * Also checks r/w permissions.
     *
     * @returns step summary file path
     */
    filePath() {
        return __awaiter(this, void 0, void 0, function* () {
            if (this._filePath) {
                return this._filePath;
            }
            const pathFromEnv = process.env[SUMMARY_ENV_VAR];
            if (!pathFromEnv) {
                throw new Error(`Unable to find environment variable for $${SUMMARY_ENV_VAR}. Check if your runtime environment supports job summaries.`);
            }
            try {
                yield access(pathFromEnv, external_fs_namespaceObject.constants.R_OK | external_fs_namespaceObject.constants.W_OK);
            }
            catch (_a) {
                throw new Error(`Unable to access summary file: '${pathFromEnv}'. Check if the file has correct read/write permissions.`);
            }
            this._filePath = pathFromEnv;
            return this._filePath;
        });
    }
    /**
     * Wraps content in an HTML tag, adding any HTML attributes
     *
     * @param {string} tag HTML tag to wrap
     * @param {string | null} content content within the tag
     * @param {[attribute: string]: string} attrs key-value list of HTML attributes to add
     *
     * @returns {string} content wrapped in HTML element
     */
    wrap(tag, content, attrs = {}) {
        const htmlAttrs = Object.entries(attrs)
            .map(([key, value]) => ` ${key}="${value}"`)
            .join('');
        if (!content) {
            return `<${tag}${htmlAttrs}>`;
        }
        return `<${tag}${htmlAttrs}>${content}</${tag}>`;
    }
    /**
     * Writes text in the buffer to the summary buffer file and empties buffer. Will append by default.
     *
     * @param {SummaryWriteOptions} [options] (optional) options for write operation
     *
     * @returns {Promise<Summary>} summary instance
     */
    write(options) {
        return __awaiter(this, void 0, void 0, function* () {
            const overwrite = !!(options === null || options === void 0 ? void 0 : options.overwrite);
            const filePath = yield this.filePath();
            const writeFunc = overwrite ? writeFile : appendFile;
            yield writeFunc(filePath, this._buffer, { encoding: 'utf8' });
            return this.emptyBuffer();
        });
    }
    /**
     * Clears the summary buffer and wipes the summary file
     *
     * @returns {Summary} summary instance
     */
    clear() {
        return __awaiter(this, void 0, void 0, function* () {
            return this.emptyBuffer().write({ overwrite: true });
        });
    }
    /**
     * Returns the current summary buffer as a string
     *
     * @returns {string} string of summary buffer
     */
    stringify() {
        return this._buffer;
    }
    /**
     * If the summary buffer is empty
     *
     * @returns {boolen} true if the buffer is empty
     */
    isEmptyBuffer() {
        return this._buffer.length === 0;
    }
    /**
     * Resets the summary buffer without writing to summary file
     *
     * @returns {Summary} summary instance
     */
    emptyBuffer() {
        this._buffer = '';
        return this;
    }
    /**
     * Adds raw text to the summary buffer
     *
     * @param {string} text content to add
     * @param {boolean} [addEOL=false] (optional) append an EOL to the raw text (default: false)
     *
     * @returns {Summary} summary instance
     */
    addRaw(text, addEOL = false) {
        this._buffer += text;
        return addEOL ? this.addEOL() : this;
    }
    /**
     * Adds the operating system-specific end-of-line marker to the buffer
     *
     * @returns {Summary} summary instance
     */
    addEOL() {
        return this.addRaw(external_os_namespaceObject.EOL);
    }
    /**
     * Adds an HTML codeblock to the summary buffer
     *
     * @param {string} code content to render within fenced code block
     * @param {string} lang (optional) language to syntax highlight code
     *
     * @returns {Summary} summary instance
     */
    addCodeBlock(code, lang) {
        const attrs = Object.assign({}, (lang && { lang }));
        const element = this.wrap('pre', this.wrap('code', code), attrs);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML list to the summary buffer
     *
     * @param {string[]} items list of items to render
     * @param {boolean} [ordered=false] (optional) if the rendered list should be ordered or not (default: false)
     *
     * @returns {Summary} summary instance
     */
    addList(items, ordered = false) {
        const tag = ordered ? 'ol' : 'ul';
        const listItems = items.map(item => this.wrap('li', item)).join('');
        const element = this.wrap(tag, listItems);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML table to the summary buffer
     *
     * @param {SummaryTableCell[]} rows table rows
     *
     * @returns {Summary} summary instance
     */
    addTable(rows) {
        const tableBody = rows
            .map(row => {
            const cells = row
                .map(cell => {
                if (typeof cell === 'string') {
                    return this.wrap('td', cell);
                }
                const { header, data, colspan, rowspan } = cell;
                const tag = header ? 'th' : 'td';
                const attrs = Object.assign(Object.assign({}, (colspan && { colspan })), (rowspan && { rowspan }));
                return this.wrap(tag, data, attrs);
            })
                .join('');
            return this.wrap('tr', cells);
        })
            .join('');
        const element = this.wrap('table', tableBody);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds a collapsable HTML details element to the summary buffer
     *
     * @param {string} label text for the closed state
     * @param {string} content collapsable content
     *
     * @returns {Summary} summary instance
     */
    addDetails(label, content) {
        const element = this.wrap('details', this.wrap('summary', label) + content);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML image tag to the summary buffer
     *
     * @param {string} src path to the image you to embed
     * @param {string} alt text description of the image
     * @param {SummaryImageOptions} options (optional) addition image attributes
     *
     * @returns {Summary} summary instance
     */
    addImage(src, alt, options) {
        const { width, height } = options || {};
        const attrs = Object.assign(Object.assign({}, (width && { width })), (height && { height }));
        const element = this.wrap('img', null, Object.assign({ src, alt }, attrs));
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML section heading element
     *
     * @param {string} text heading text
     * @param {number | string} [level=1] (optional) the heading level, default: 1
     *
     * @returns {Summary} summary instance
     */
    addHeading(text, level) {
        const tag = `h${level}`;
        const allowedTag = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].includes(tag)
            ? tag
            : 'h1';
        const element = this.wrap(allowedTag, text);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML thematic break (<hr>) to the summary buffer
     *
     * @returns {Summary} summary instance
     */
    addSeparator() {
        const element = this.wrap('hr', null);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML line break (<br>) to the summary buffer
     *
     * @returns {Summary} summary instance
     */
    addBreak() {
        const element = this.wrap('br', null);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML blockquote to the summary buffer
     *
     * @param {string} text quote text
     * @param {string} cite (optional) citation url
     *
     * @returns {Summary} summary instance
     */
    addQuote(text, cite) {
        const attrs = Object.assign({}, (cite && { cite }));
        const element = this.wrap('blockquote', text, attrs);
        return this.addRaw(element).addEOL();
    }
    /**
     * Adds an HTML anchor tag to the summary buffer
     *
     * @param {string} text link text/content
     * @param {string} href hyperlink
     *
     * @returns {Summary} summary instance
     */
    addLink(text, href) {
        const element = this.wrap('a', text, { href });
        return this.addRaw(element).addEOL();
    }
}
const _summary = new Summary();
/**
 * @deprecated use `core.summary`
 */
const markdownSummary = (/* unused pure expression or super */ null && (_summary));
const summary = _summary;
//# sourceMappingURL=summary.js.map
;// CONCATENATED MODULE: ./node_modules/@actions/core/lib/path-utils.js

/**
 * toPosixPath converts the given path to the posix form. On Windows, \\ will be
 * replaced with /.
 *
 * @param pth. Path to transform.
 * @return string Posix path.
 */
function toPosixPath(pth) {
    return pth.replace(/[\\]/g, '/');
}
/**
 * toWin32Path converts the given path to the win32 form. On Linux, / will be
 * replaced with \\.
 *
 * @param pth. Path to transform.
 * @return string Win32 path.
 */
function toWin32Path(pth) {
    return pth.replace(/[/]/g, '\\');
}
/**
 * toPlatformPath converts the given path to a platform-specific path. It does
 * this by replacing instances of / and \ with the platform-specific path
 * separator.
 *
 * @param pth The path to platformize.
 * @return string The platform-specific path.
 */
function toPlatformPath(pth) {
    return pth.replace(/[/\\]/g, path.sep);
}
//# sourceMappingURL=path-utils.js.map
// EXTERNAL MODULE: external "string_decoder"
var external_string_decoder_ = __nccwpck_require__(3193);
// EXTERNAL MODULE: external "events"
var external_events_ = __nccwpck_require__(4434);
;// CONCATENATED MODULE: external "child_process"
const external_child_process_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("child_process");
// EXTERNAL MODULE: external "assert"
var external_assert_ = __nccwpck_require__(2613);
;// CONCATENATED MODULE: ./node_modules/@actions/io/lib/io-util.js
var io_util_awaiter = (undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};


const { chmod, copyFile, lstat, mkdir, open: io_util_open, readdir, rename, rm, rmdir, stat, symlink, unlink } = external_fs_namespaceObject.promises;
// export const {open} = 'fs'
const IS_WINDOWS = process.platform === 'win32';
/**
 * Custom implementation of readlink to ensure Windows junctions
 * maintain trailing backslash for backward compatibility with Node.js < 24
 *
 * In Node.js 20, Windows junctions (directory symlinks) always returned paths
 * with trailing backslashes. Node.js 24 removed this behavior, which breaks
 * code that relied on this format for path operations.
 *
 * This implementation restores the Node 20 behavior by adding a trailing
 * backslash to all junction results on Windows.
 */
function readlink(fsPath) {
    return io_util_awaiter(this, void 0, void 0, function* () {
        const result = yield fs.promises.readlink(fsPath);
        // On Windows, restore Node 20 behavior: add trailing backslash to all results
        // since junctions on Windows are always directory links
        if (IS_WINDOWS && !result.endsWith('\\')) {
            return `${result}\\`;
        }
        return result;
    });
}
// See https://github.com/nodejs/node/blob/d0153aee367422d0858105abec186da4dff0a0c5/deps/uv/include/uv/win.h#L691
const UV_FS_O_EXLOCK = 0x10000000;
const READONLY = external_fs_namespaceObject.constants.O_RDONLY;
function exists(fsPath) {
    return io_util_awaiter(this, void 0, void 0, function* () {
        try {
            yield stat(fsPath);
        }
        catch (err) {
            if (err.code === 'ENOENT') {
                return false;
            }
            throw err;
        }
        return true;
    });
}
function isDirectory(fsPath_1) {
    return io_util_awaiter(this, arguments, void 0, function* (fsPath, useStat = false) {
        const stats = useStat ? yield stat(fsPath) : yield lstat(fsPath);
        return stats.isDirectory();
    });
}
/**
 * On OSX/Linux, true if path starts with '/'. On Windows, true for paths like:
 * \, \hello, \\hello\share, C:, and C:\hello (and corresponding alternate separator cases).
 */
function isRooted(p) {
    p = normalizeSeparators(p);
    if (!p) {
        throw new Error('isRooted() parameter "p" cannot be empty');
    }
    if (IS_WINDOWS) {
        return (p.startsWith('\\') || /^[A-Z]:/i.test(p) // e.g. \ or \hello or \\hello
        ); // e.g. C: or C:\hello
    }
    return p.startsWith('/');
}
/**
 * Best effort attempt to determine whether a file exists and is executable.
 * @param filePath    file path to check
 * @param extensions  additional file extensions to try
 * @return if file exists and is executable, returns the file path. otherwise empty string.
 */
function tryGetExecutablePath(filePath, extensions) {
    return io_util_awaiter(this, void 0, void 0, function* () {
        let stats = undefined;
        try {
            // test file exists
            stats = yield stat(filePath);
        }
        catch (err) {
            if (err.code !== 'ENOENT') {
                // eslint-disable-next-line no-console
                console.log(`Unexpected error attempting to determine if executable file exists '${filePath}': ${err}`);
            }
        }
        if (stats && stats.isFile()) {
            if (IS_WINDOWS) {
                // on Windows, test for valid extension
                const upperExt = external_path_namespaceObject.extname(filePath).toUpperCase();
                if (extensions.some(validExt => validExt.toUpperCase() === upperExt)) {
                    return filePath;
                }
            }
            else {
                if (isUnixExecutable(stats)) {
                    return filePath;
                }
            }
        }
        // try each extension
        const originalFilePath = filePath;
        for (const extension of extensions) {
            filePath = originalFilePath + extension;
            stats = undefined;
            try {
                stats = yield stat(filePath);
            }
            catch (err) {
                if (err.code !== 'ENOENT') {
                    // eslint-disable-next-line no-console
                    console.log(`Unexpected error attempting to determine if executable file exists '${filePath}': ${err}`);
                }
            }
            if (stats && stats.isFile()) {
                if (IS_WINDOWS) {
                    // preserve the case of the actual file (since an extension was appended)
                    try {
                        const directory = external_path_namespaceObject.dirname(filePath);
                        const upperName = external_path_namespaceObject.basename(filePath).toUpperCase();
                        for (const actualName of yield readdir(directory)) {
                            if (upperName === actualName.toUpperCase()) {
                                filePath = external_path_namespaceObject.join(directory, actualName);
                                break;
                            }
                        }
                    }
                    catch (err) {
                        // eslint-disable-next-line no-console
                        console.log(`Unexpected error attempting to determine the actual case of the file '${filePath}': ${err}`);
                    }
                    return filePath;
                }
                else {
                    if (isUnixExecutable(stats)) {
                        return filePath;
                    }
                }
            }
        }
        return '';
    });
}
function normalizeSeparators(p) {
    p = p || '';
    if (IS_WINDOWS) {
        // convert slashes on Windows
        p = p.replace(/\//g, '\\');
        // remove redundant slashes
        return p.replace(/\\\\+/g, '\\');
    }
    // remove redundant slashes
    return p.replace(/\/\/+/g, '/');
}
// on Mac/Linux, test the execute bit
//     R   W  X  R  W X R W X
//   256 128 64 32 16 8 4 2 1
function isUnixExecutable(stats) {
    return ((stats.mode & 1) > 0 ||
        ((stats.mode & 8) > 0 &&
            process.getgid !== undefined &&
            stats.gid === process.getgid()) ||
        ((stats.mode & 64) > 0 &&
            process.getuid !== undefined &&
            stats.uid === process.getuid()));
}
// Get the path of cmd.exe in windows
function getCmdPath() {
    var _a;
    return (_a = process.env['COMSPEC']) !== null && _a !== void 0 ? _a : `cmd.exe`;
}
//# sourceMappingURL=io-util.js.map
;// CONCATENATED MODULE: ./node_modules/@actions/io/lib/io.js
var io_awaiter = (undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};



/**
 * Copies a file or folder.
 * Based off of shelljs - https://github.com/shelljs/shelljs/blob/9237f66c52e5daa40458f94f9565e18e8132f5a6/src/cp.js
 *
 * @param     source    source path
 * @param     dest      destination path
 * @param     options   optional. See CopyOptions.
 */
function cp(source_1, dest_1) {
    return io_awaiter(this, arguments, void 0, function* (source, dest, options = {}) {
        const { force, recursive, copySourceDirectory } = readCopyOptions(options);
        const destStat = (yield ioUtil.exists(dest)) ? yield ioUtil.stat(dest) : null;
        // Dest is an existing file, but not forcing
        if (destStat && destStat.isFile() && !force) {
            return;
        }
        // If dest is an existing directory, should copy inside.
        const newDest = destStat && destStat.isDirectory() && copySourceDirectory
            ? path.join(dest, path.basename(source))
            : dest;
        if (!(yield ioUtil.exists(source))) {
            throw new Error(`no such file or directory: ${source}`);
        }
        const sourceStat = yield ioUtil.stat(source);
        if (sourceStat.isDirectory()) {
            if (!recursive) {
                throw new Error(`Failed to copy. ${source} is a directory, but tried to copy without recursive flag.`);
            }
            else {
                yield cpDirRecursive(source, newDest, 0, force);
            }
        }
        else {
            if (path.relative(source, newDest) === '') {
                // a file cannot be copied to itself
                throw new Error(`'${newDest}' and '${source}' are the same file`);
            }
            yield io_copyFile(source, newDest, force);
        }
    });
}
/**
 * Moves a path.
 *
 * @param     source    source path
 * @param     dest      destination path
 * @param     options   optional. See MoveOptions.
 */
function mv(source_1, dest_1) {
    return io_awaiter(this, arguments, void 0, function* (source, dest, options = {}) {
        if (yield ioUtil.exists(dest)) {
            let destExists = true;
            if (yield ioUtil.isDirectory(dest)) {
                // If dest is directory copy src into dest
                dest = path.join(dest, path.basename(source));
                destExists = yield ioUtil.exists(dest);
            }
            if (destExists) {
                if (options.force == null || options.force) {
                    yield rmRF(dest);
                }
                else {
                    throw new Error('Destination already exists');
                }
            }
        }
        yield mkdirP(path.dirname(dest));
        yield ioUtil.rename(source, dest);
    });
}
/**
 * Remove a path recursively with force
 *
 * @param inputPath path to remove
 */
function rmRF(inputPath) {
    return io_awaiter(this, void 0, void 0, function* () {
        if (ioUtil.IS_WINDOWS) {
            // Check for invalid characters
            // https://docs.microsoft.com/en-us/windows/win32/fileio/naming-a-file
            if (/[*"<>|]/.test(inputPath)) {
                throw new Error('File path must not contain `*`, `"`, `<`, `>` or `|` on Windows');
            }
        }
        try {
            // note if path does not exist, error is silent
            yield ioUtil.rm(inputPath, {
                force: true,
                maxRetries: 3,
                recursive: true,
                retryDelay: 300
            });
        }
        catch (err) {
            throw new Error(`File was unable to be removed ${err}`);
        }
    });
}
/**
 * Make a directory.  Creates the full path with folders in between
 * Will throw if it fails
 *
 * @param   fsPath        path to create
 * @returns Promise<void>
 */
function mkdirP(fsPath) {
    return io_awaiter(this, void 0, void 0, function* () {
        ok(fsPath, 'a path argument must be provided');
        yield ioUtil.mkdir(fsPath, { recursive: true });
    });
}
/**
 * Returns path of a tool had the tool actually been invoked.  Resolves via paths.
 * If you check and the tool does not exist, it will throw.
 *
 * @param     tool              name of the tool
 * @param     check             whether to check if tool exists
 * @returns   Promise<string>   path to tool
 */
function which(tool, check) {
    return io_awaiter(this, void 0, void 0, function* () {
        if (!tool) {
            throw new Error("parameter 'tool' is required");
        }
        // recursive when check=true
        if (check) {
            const result = yield which(tool, false);
            if (!result) {
                if (IS_WINDOWS) {
                    throw new Error(`Unable to locate executable file: ${tool}. Please verify either the file path exists or the file can be found within a directory specified by the PATH environment variable. Also verify the file has a valid extension for an executable file.`);
                }
                else {
                    throw new Error(`Unable to locate executable file: ${tool}. Please verify either the file path exists or the file can be found within a directory specified by the PATH environment variable. Also check the file mode to verify the file is executable.`);
                }
            }
            return result;
        }
        const matches = yield findInPath(tool);
        if (matches && matches.length > 0) {
            return matches[0];
        }
        return '';
    });
}
/**
 * Returns a list of all occurrences of the given tool on the system path.
 *
 * @returns   Promise<string[]>  the paths of the tool
 */
function findInPath(tool) {
    return io_awaiter(this, void 0, void 0, function* () {
        if (!tool) {
            throw new Error("parameter 'tool' is required");
        }
        // build the list of extensions to try
        const extensions = [];
        if (IS_WINDOWS && process.env['PATHEXT']) {
            for (const extension of process.env['PATHEXT'].split(external_path_namespaceObject.delimiter)) {
                if (extension) {
                    extensions.push(extension);
                }
            }
        }
        // if it's rooted, return it if exists. otherwise return empty.
        if (isRooted(tool)) {
            const filePath = yield tryGetExecutablePath(tool, extensions);
            if (filePath) {
                return [filePath];
            }
            return [];
        }
        // if any path separators, return empty
        if (tool.includes(external_path_namespaceObject.sep)) {
            return [];
        }
        // build the list of directories
        //
        // Note, technically "where" checks the current directory on Windows. From a toolkit perspective,
        // it feels like we should not do this. Checking the current directory seems like more of a use
        // case of a shell, and the which() function exposed by the toolkit should strive for consistency
        // across platforms.
        const directories = [];
        if (process.env.PATH) {
            for (const p of process.env.PATH.split(external_path_namespaceObject.delimiter)) {
                if (p) {
                    directories.push(p);
                }
            }
        }
        // find all matches
        const matches = [];
        for (const directory of directories) {
            const filePath = yield tryGetExecutablePath(external_path_namespaceObject.join(directory, tool), extensions);
            if (filePath) {
                matches.push(filePath);
            }
        }
        return matches;
    });
}
function readCopyOptions(options) {
    const force = options.force == null ? true : options.force;
    const recursive = Boolean(options.recursive);
    const copySourceDirectory = options.copySourceDirectory == null
        ? true
        : Boolean(options.copySourceDirectory);
    return { force, recursive, copySourceDirectory };
}
function cpDirRecursive(sourceDir, destDir, currentDepth, force) {
    return io_awaiter(this, void 0, void 0, function* () {
        // Ensure there is not a run away recursive copy
        if (currentDepth >= 255)
            return;
        currentDepth++;
        yield mkdirP(destDir);
        const files = yield ioUtil.readdir(sourceDir);
        for (const fileName of files) {
            const srcFile = `${sourceDir}/${fileName}`;
            const destFile = `${destDir}/${fileName}`;
            const srcFileStat = yield ioUtil.lstat(srcFile);
            if (srcFileStat.isDirectory()) {
                // Recurse
                yield cpDirRecursive(srcFile, destFile, currentDepth, force);
            }
            else {
                yield io_copyFile(srcFile, destFile, force);
            }
        }
        // Change the mode for the newly created directory
        yield ioUtil.chmod(destDir, (yield ioUtil.stat(sourceDir)).mode);
    });
}
// Buffered file copy
function io_copyFile(srcFile, destFile, force) {
    return io_awaiter(this, void 0, void 0, function* () {
        if ((yield ioUtil.lstat(srcFile)).isSymbolicLink()) {
            // unlink/re-link it
            try {
                yield ioUtil.lstat(destFile);
                yield ioUtil.unlink(destFile);
            }
            catch (e) {
                // Try to override file permission
                if (e.code === 'EPERM') {
                    yield ioUtil.chmod(destFile, '0666');
                    yield ioUtil.unlink(destFile);
                }
                // other errors = it doesn't exist, no work to do
            }
            // Copy over symlink
            const symlinkFull = yield ioUtil.readlink(srcFile);
            yield ioUtil.symlink(symlinkFull, destFile, ioUtil.IS_WINDOWS ? 'junction' : null);
        }
        else if (!(yield ioUtil.exists(destFile)) || force) {
            yield ioUtil.copyFile(srcFile, destFile);
        }
    });
}
//# sourceMappingURL=io.js.map
;// CONCATENATED MODULE: external "timers"
const external_timers_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("timers");
;// CONCATENATED MODULE: ./node_modules/@actions/exec/lib/toolrunner.js
var toolrunner_awaiter = (undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};







/* eslint-disable @typescript-eslint/unbound-method */
const toolrunner_IS_WINDOWS = process.platform === 'win32';
/*
 * Class for running command line tools. Handles quoting and arg parsing in a platform agnostic way.
 */
class ToolRunner extends external_events_.EventEmitter {
    constructor(toolPath, args, options) {
        super();
        if (!toolPath) {
            throw new Error("Parameter 'toolPath' cannot be null or empty.");
        }
        this.toolPath = toolPath;
        this.args = args || [];
        this.options = options || {};
    }
    _debug(message) {
        if (this.options.listeners && this.options.listeners.debug) {
            this.options.listeners.debug(message);
        }
    }
    _getCommandString(options, noPrefix) {
        const toolPath = this._getSpawnFileName();
        const args = this._getSpawnArgs(options);
        let cmd = noPrefix ? '' : '[command]'; // omit prefix when piped to a second tool
        if (toolrunner_IS_WINDOWS) {
            // Windows + cmd file
            if (this._isCmdFile()) {
                cmd += toolPath;
                for (const a of args) {
                    cmd += ` ${a}`;
                }
            }
            // Windows + verbatim
            else if (options.windowsVerbatimArguments) {
                cmd += `"${toolPath}"`;
                for (const a of args) {
                    cmd += ` ${a}`;
                }
            }
            // Windows (regular)
            else {
                cmd += this._windowsQuoteCmdArg(toolPath);
                for (const a of args) {
                    cmd += ` ${this._windowsQuoteCmdArg(a)}`;
                }
            }
        }
        else {
            // OSX/Linux - this can likely be improved with some form of quoting.
            // creating processes on Unix is fundamentally different than Windows.
            // on Unix, execvp() takes an arg array.
            cmd += toolPath;
            for (const a of args) {
                cmd += ` ${a}`;
            }
        }
        return cmd;
    }
    _processLineBuffer(data, strBuffer, onLine) {
        try {
            let s = strBuffer + data.toString();
            let n = s.indexOf(external_os_namespaceObject.EOL);
            while (n > -1) {
                const line = s.substring(0, n);
                onLine(line);
                // the rest of the string ...
                s = s.substring(n + external_os_namespaceObject.EOL.length);
                n = s.indexOf(external_os_namespaceObject.EOL);
            }
            return s;
        }
        catch (err) {
            // streaming lines to console is best effort.  Don't fail a build.
            this._debug(`error processing line. Failed with error ${err}`);
            return '';
        }
    }
    _getSpawnFileName() {
        if (toolrunner_IS_WINDOWS) {
            if (this._isCmdFile()) {
                return process.env['COMSPEC'] || 'cmd.exe';
            }
        }
        return this.toolPath;
    }
    _getSpawnArgs(options) {
        if (toolrunner_IS_WINDOWS) {
            if (this._isCmdFile()) {
                let argline = `/D /S /C "${this._windowsQuoteCmdArg(this.toolPath)}`;
                for (const a of this.args) {
                    argline += ' ';
                    argline += options.windowsVerbatimArguments
                        ? a
                        : this._windowsQuoteCmdArg(a);
                }
                argline += '"';
                return [argline];
            }
        }
        return this.args;
    }
    _endsWith(str, end) {
        return str.endsWith(end);
    }
    _isCmdFile() {
        const upperToolPath = this.toolPath.toUpperCase();
        return (this._endsWith(upperToolPath, '.CMD') ||
            this._endsWith(upperToolPath, '.BAT'));
    }
    _windowsQuoteCmdArg(arg) {
        // for .exe, apply the normal quoting rules that libuv applies
        if (!this._isCmdFile()) {
            return this._uvQuoteCmdArg(arg);
        }
        // otherwise apply quoting rules specific to the cmd.exe command line parser.
        // the libuv rules are generic and are not designed specifically for cmd.exe
        // command line parser.
        //
        // for a detailed description of the cmd.exe command line parser, refer to
        // http://stackoverflow.com/questions/4094699/how-does-the-windows-command-interpreter-cmd-exe-parse-scripts/7970912#7970912
        // need quotes for empty arg
        if (!arg) {
            return '""';
        }
        // determine whether the arg needs to be quoted
        const cmdSpecialChars = [
            ' ',
            '\t',
            '&',
            '(',
            ')',
            '[',
            ']',
            '{',
            '}',
            '^',
            '=',
            ';',
            '!',
            "'",
            '+',
            ',',
            '`',
            '~',
            '|',
            '<',
            '>',
            '"'
        ];
        let needsQuotes = false;
        for (const char of arg) {
            if (cmdSpecialChars.some(x => x === char)) {
                needsQuotes = true;
                break;
            }
        }
        // short-circuit if quotes not needed
        if (!needsQuotes) {
            return arg;
        }
        // the following quoting rules are very similar to the rules that by libuv applies.
        //
        // 1) wrap the string in quotes
        //
        // 2) double-up quotes - i.e. " => ""
        //
        //    this is different from the libuv quoting rules. libuv replaces " with \", which unfortunately
        //    doesn't work well with a cmd.exe command line.
        //
        //    note, replacing " with "" also works well if the arg is passed to a downstream .NET console app.
        //    for example, the command line:
        //          foo.exe "myarg:""my val"""
        //    is parsed by a .NET console app into an arg array:
        //          [ "myarg:\"my val\"" ]
        //    which is the same end result when applying libuv quoting rules. although the actual
        //    command line from libuv quoting rules would look like:
        //          foo.exe "myarg:\"my val\""
        //
        // 3) double-up slashes that precede a quote,
        //    e.g.  hello \world    => "hello \world"
        //          hello\"world    => "hello\\""world"
        //          hello\\"world   => "hello\\\\""world"
        //          hello world\    => "hello world\\"
        //
        //    technically this is not required for a cmd.exe command line, or the batch argument parser.
        //    the reasons for including this as a .cmd quoting rule are:
        //
        //    a) this is optimized for the scenario where the argument is passed from the .cmd file to an
        //       external program. many programs (e.g. .NET console apps) rely on the slash-doubling rule.
        //
        //    b) it's what we've been doing previously (by deferring to node default behavior) and we
        //       haven't heard any complaints about that aspect.
        //
        // note, a weakness of the quoting rules chosen here, is that % is not escaped. in fact, % cannot be
        // escaped when used on the command line directly - even though within a .cmd file % can be escaped
        // by using %%.
        //
        // the saving grace is, on the command line, %var% is left as-is if var is not defined. this contrasts
        // the line parsing rules within a .cmd file, where if var is not defined it is replaced with nothing.
        //
        // one option that was explored was replacing % with ^% - i.e. %var% => ^%var^%. this hack would
        // often work, since it is unlikely that var^ would exist, and the ^ character is removed when the
        // variable is used. the problem, however, is that ^ is not removed when %* is used to pass the args
        // to an external program.
        //
        // an unexplored potential solution for the % escaping problem, is to create a wrapper .cmd file.
        // % can be escaped within a .cmd file.
        let reverse = '"';
        let quoteHit = true;
        for (let i = arg.length; i > 0; i--) {
            // walk the string in reverse
            reverse += arg[i - 1];
            if (quoteHit && arg[i - 1] === '\\') {
                reverse += '\\'; // double the slash
            }
            else if (arg[i - 1] === '"') {
                quoteHit = true;
                reverse += '"'; // double the quote
            }
            else {
                quoteHit = false;
            }
        }
        reverse += '"';
        return reverse.split('').reverse().join('');
    }
    _uvQuoteCmdArg(arg) {
        // Tool runner wraps child_process.spawn() and needs to apply the same quoting as
        // Node in certain cases where the undocumented spawn option windowsVerbatimArguments
        // is used.
        //
        // Since this function is a port of quote_cmd_arg from Node 4.x (technically, lib UV,
        // see https://github.com/nodejs/node/blob/v4.x/deps/uv/src/win/process.c for details),
        // pasting copyright notice from Node within this function:
        //
        //      Copyright Joyent, Inc. and other Node contributors. All rights reserved.
        //
        //      Permission is hereby granted, free of charge, to any person obtaining a copy
        //      of this software and associated documentation files (the "Software"), to
        //      deal in the Software without restriction, including without limitation the
        //      rights to use, copy, modify, merge, publish, distribute, sublicense, and/or
        //      sell copies of the Software, and to permit persons to whom the Software is
        //      furnished to do so, subject to the following conditions:
        //
        //      The above copyright notice and this permission notice shall be included in
        //      all copies or substantial portions of the Software.
        //
        //      THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
        //      IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
        //      FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
        //      AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
        //      LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
        //      FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
        //      IN THE SOFTWARE.
        if (!arg) {
            // Need double quotation for empty argument
            return '""';
        }
        if (!arg.includes(' ') && !arg.includes('\t') && !arg.includes('"')) {
            // No quotation needed
            return arg;
        }
        if (!arg.includes('"') && !arg.includes('\\')) {
            // No embedded double quotes or backslashes, so I can just wrap
            // quote marks around the whole thing.
            return `"${arg}"`;
        }
        // Expected input/output:
        //   input : hello"world
        //   output: "hello\"world"
        //   input : hello""world
        //   output: "hello\"\"world"
        //   input : hello\world
        //   output: hello\world
        //   input : hello\\world
        //   output: hello\\world
        //   input : hello\"world
        //   output: "hello\\\"world"
        //   input : hello\\"world
        //   output: "hello\\\\\"world"
        //   input : hello world\
        //   output: "hello world\\" - note the comment in libuv actually reads "hello world\"
        //                             but it appears the comment is wrong, it should be "hello world\\"
        let reverse = '"';
        let quoteHit = true;
        for (let i = arg.length; i > 0; i--) {
            // walk the string in reverse
            reverse += arg[i - 1];
            if (quoteHit && arg[i - 1] === '\\') {
                reverse += '\\';
            }
            else if (arg[i - 1] === '"') {
                quoteHit = true;
                reverse += '\\';
            }
            else {
                quoteHit = false;
            }
        }
        reverse += '"';
        return reverse.split('').reverse().join('');
    }
    _cloneExecOptions(options) {
        options = options || {};
        const result = {
            cwd: options.cwd || process.cwd(),
            env: options.env || process.env,
            silent: options.silent || false,
            windowsVerbatimArguments: options.windowsVerbatimArguments || false,
            failOnStdErr: options.failOnStdErr || false,
            ignoreReturnCode: options.ignoreReturnCode || false,
            delay: options.delay || 10000
        };
        result.outStream = options.outStream || process.stdout;
        result.errStream = options.errStream || process.stderr;
        return result;
    }
    _getSpawnOptions(options, toolPath) {
        options = options || {};
        const result = {};
        result.cwd = options.cwd;
        result.env = options.env;
        result['windowsVerbatimArguments'] =
            options.windowsVerbatimArguments || this._isCmdFile();
        if (options.windowsVerbatimArguments) {
            result.argv0 = `"${toolPath}"`;
        }
        return result;
    }
    /**
     * Exec a tool.
     * Output will be streamed to the live console.
     * Returns promise with return code
     *
     * @param     tool     path to tool to exec
     * @param     options  optional exec options.  See ExecOptions
     * @returns   number
     */
    exec() {
        return toolrunner_awaiter(this, void 0, void 0, function* () {
            // root the tool path if it is unrooted and contains relative pathing
            if (!isRooted(this.toolPath) &&
                (this.toolPath.includes('/') ||
                    (toolrunner_IS_WINDOWS && this.toolPath.includes('\\')))) {
                // prefer options.cwd if it is specified, however options.cwd may also need to be rooted
                this.toolPath = external_path_namespaceObject.resolve(process.cwd(), this.options.cwd || process.cwd(), this.toolPath);
            }
            // if the tool is only a file name, then resolve it from the PATH
            // otherwise verify it exists (add extension on Windows if necessary)
            this.toolPath = yield which(this.toolPath, true);
            return new Promise((resolve, reject) => toolrunner_awaiter(this, void 0, void 0, function* () {
                this._debug(`exec tool: ${this.toolPath}`);
                this._debug('arguments:');
                for (const arg of this.args) {
                    this._debug(`   ${arg}`);
                }
                const optionsNonNull = this._cloneExecOptions(this.options);
                if (!optionsNonNull.silent && optionsNonNull.outStream) {
                    optionsNonNull.outStream.write(this._getCommandString(optionsNonNull) + external_os_namespaceObject.EOL);
                }
                const state = new ExecState(optionsNonNull, this.toolPath);
                state.on('debug', (message) => {
                    this._debug(message);
                });
                if (this.options.cwd && !(yield exists(this.options.cwd))) {
                    return reject(new Error(`The cwd: ${this.options.cwd} does not exist!`));
                }
                const fileName = this._getSpawnFileName();
                const cp = external_child_process_namespaceObject.spawn(fileName, this._getSpawnArgs(optionsNonNull), this._getSpawnOptions(this.options, fileName));
                let stdbuffer = '';
                if (cp.stdout) {
                    cp.stdout.on('data', (data) => {
                        if (this.options.listeners && this.options.listeners.stdout) {
                            this.options.listeners.stdout(data);
                        }
                        if (!optionsNonNull.silent && optionsNonNull.outStream) {
                            optionsNonNull.outStream.write(data);
                        }
                        stdbuffer = this._processLineBuffer(data, stdbuffer, (line) => {
                            if (this.options.listeners && this.options.listeners.stdline) {
                                this.options.listeners.stdline(line);
                            }
                        });
                    });
                }
                let errbuffer = '';
                if (cp.stderr) {
                    cp.stderr.on('data', (data) => {
                        state.processStderr = true;
                        if (this.options.listeners && this.options.listeners.stderr) {
                            this.options.listeners.stderr(data);
                        }
                        if (!optionsNonNull.silent &&
                            optionsNonNull.errStream &&
                            optionsNonNull.outStream) {
                            const s = optionsNonNull.failOnStdErr
                                ? optionsNonNull.errStream
                                : optionsNonNull.outStream;
                            s.write(data);
                        }
                        errbuffer = this._processLineBuffer(data, errbuffer, (line) => {
                            if (this.options.listeners && this.options.listeners.errline) {
                                this.options.listeners.errline(line);
                            }
                        });
                    });
                }
                cp.on('error', (err) => {
                    state.processError = err.message;
                    state.processExited = true;
                    state.processClosed = true;
                    state.CheckComplete();
                });
                cp.on('exit', (code) => {
                    state.processExitCode = code;
                    state.processExited = true;
                    this._debug(`Exit code ${code} received from tool '${this.toolPath}'`);
                    state.CheckComplete();
                });
                cp.on('close', (code) => {
                    state.processExitCode = code;
                    state.processExited = true;
                    state.processClosed = true;
                    this._debug(`STDIO streams have closed for tool '${this.toolPath}'`);
                    state.CheckComplete();
                });
                state.on('done', (error, exitCode) => {
                    if (stdbuffer.length > 0) {
                        this.emit('stdline', stdbuffer);
                    }
                    if (errbuffer.length > 0) {
                        this.emit('errline', errbuffer);
                    }
                    cp.removeAllListeners();
                    if (error) {
                        reject(error);
                    }
                    else {
                        resolve(exitCode);
                    }
                });
                if (this.options.input) {
                    if (!cp.stdin) {
                        throw new Error('child process missing stdin');
                    }
                    cp.stdin.end(this.options.input);
                }
            }));
        });
    }
}
/**
 * Convert an arg string to an array of args. Handles escaping
 *
 * @param    argString   string of arguments
 * @returns  string[]    array of arguments
 */
function argStringToArray(argString) {
    const args = [];
    let inQuotes = false;
    let escaped = false;
    let arg = '';
    function append(c) {
        // we only escape double quotes.
        if (escaped && c !== '"') {
            arg += '\\';
        }
        arg += c;
        escaped = false;
    }
    for (let i = 0; i < argString.length; i++) {
        const c = argString.charAt(i);
        if (c === '"') {
            if (!escaped) {
                inQuotes = !inQuotes;
            }
            else {
                append(c);
            }
            continue;
        }
        if (c === '\\' && escaped) {
            append(c);
            continue;
        }
        if (c === '\\' && inQuotes) {
            escaped = true;
            continue;
        }
        if (c === ' ' && !inQuotes) {
            if (arg.length > 0) {
                args.push(arg);
                arg = '';
            }
            continue;
        }
        append(c);
    }
    if (arg.length > 0) {
        args.push(arg.trim());
    }
    return args;
}
class ExecState extends external_events_.EventEmitter {
    constructor(options, toolPath) {
        super();
        this.processClosed = false; // tracks whether the process has exited and stdio is closed
        this.processError = '';
        this.processExitCode = 0;
        this.processExited = false; // tracks whether the process has exited
        this.processStderr = false; // tracks whether stderr was written to
        this.delay = 10000; // 10 seconds
        this.done = false;
        this.timeout = null;
        if (!toolPath) {
            throw new Error('toolPath must not be empty');
        }
        this.options = options;
        this.toolPath = toolPath;
        if (options.delay) {
            this.delay = options.delay;
        }
    }
    CheckComplete() {
        if (this.done) {
            return;
        }
        if (this.processClosed) {
            this._setResult();
        }
        else if (this.processExited) {
            this.timeout = (0,external_timers_namespaceObject.setTimeout)(ExecState.HandleTimeout, this.delay, this);
        }
    }
    _debug(message) {
        this.emit('debug', message);
    }
    _setResult() {
        // determine whether there is an error
        let error;
        if (this.processExited) {
            if (this.processError) {
                error = new Error(`There was an error when attempting to execute the process '${this.toolPath}'. This may indicate the process failed to start. Error: ${this.processError}`);
            }
            else if (this.processExitCode !== 0 && !this.options.ignoreReturnCode) {
                error = new Error(`The process '${this.toolPath}' failed with exit code ${this.processExitCode}`);
            }
            else if (this.processStderr && this.options.failOnStdErr) {
                error = new Error(`The process '${this.toolPath}' failed because one or more lines were written to the STDERR stream`);
            }
        }
        // clear the timeout
        if (this.timeout) {
            clearTimeout(this.timeout);
            this.timeout = null;
        }
        this.done = true;
        this.emit('done', error, this.processExitCode);
    }
    static HandleTimeout(state) {
        if (state.done) {
            return;
        }
        if (!state.processClosed && state.processExited) {
            const message = `The STDIO streams did not close within ${state.delay / 1000} seconds of the exit event from process '${state.toolPath}'. This may indicate a child process inherited the STDIO streams and has not yet exited.`;
            state._debug(message);
        }
        state._setResult();
    }
}
//# sourceMappingURL=toolrunner.js.map
;// CONCATENATED MODULE: ./node_modules/@actions/exec/lib/exec.js
var exec_awaiter = (undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};


/**
 * Exec a command.
 * Output will be streamed to the live console.
 * Returns promise with return code
 *
 * @param     commandLine        command to execute (can include additional args). Must be correctly escaped.
 * @param     args               optional arguments for tool. Escaping is handled by the lib.
 * @param     options            optional exec options.  See ExecOptions
 * @returns   Promise<number>    exit code
 */
function exec_exec(commandLine, args, options) {
    return exec_awaiter(this, void 0, void 0, function* () {
        const commandArgs = tr.argStringToArray(commandLine);
        if (commandArgs.length === 0) {
            throw new Error(`Parameter 'commandLine' cannot be null or empty.`);
        }
        // Path to tool to execute should be first arg
        const toolPath = commandArgs[0];
        args = commandArgs.slice(1).concat(args || []);
        const runner = new tr.ToolRunner(toolPath, args, options);
        return runner.exec();
    });
}
/**
 * Exec a command and get the output.
 * Output will be streamed to the live console.
 * Returns promise with the exit code and collected stdout and stderr
 *
 * @param     commandLine           command to execute (can include additional args). Must be correctly escaped.
 * @param     args                  optional arguments for tool. Escaping is handled by the lib.
 * @param     options               optional exec options.  See ExecOptions
 * @returns   Promise<ExecOutput>   exit code, stdout, and stderr
 */
function getExecOutput(commandLine, args, options) {
    return exec_awaiter(this, void 0, void 0, function* () {
        var _a, _b;
        let stdout = '';
        let stderr = '';
        //Using string decoder covers the case where a mult-byte character is split
        const stdoutDecoder = new StringDecoder('utf8');
        const stderrDecoder = new StringDecoder('utf8');
        const originalStdoutListener = (_a = options === null || options === void 0 ? void 0 : options.listeners) === null || _a === void 0 ? void 0 : _a.stdout;
        const originalStdErrListener = (_b = options === null || options === void 0 ? void 0 : options.listeners) === null || _b === void 0 ? void 0 : _b.stderr;
        const stdErrListener = (data) => {
            stderr += stderrDecoder.write(data);
            if (originalStdErrListener) {
                originalStdErrListener(data);
            }
        };
        const stdOutListener = (data) => {
            stdout += stdoutDecoder.write(data);
            if (originalStdoutListener) {
                originalStdoutListener(data);
            }
        };
        const listeners = Object.assign(Object.assign({}, options === null || options === void 0 ? void 0 : options.listeners), { stdout: stdOutListener, stderr: stdErrListener });
        const exitCode = yield exec_exec(commandLine, args, Object.assign(Object.assign({}, options), { listeners }));
        //flush any remaining characters
        stdout += stdoutDecoder.end();
        stderr += stderrDecoder.end();
        return {
            exitCode,
            stdout,
            stderr
        };
    });
}
//# sourceMappingURL=exec.js.map
;// CONCATENATED MODULE: ./node_modules/@actions/core/lib/platform.js
var platform_awaiter = (undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};


const getWindowsInfo = () => platform_awaiter(void 0, void 0, void 0, function* () {
    const { stdout: version } = yield exec.getExecOutput('powershell -command "(Get-CimInstance -ClassName Win32_OperatingSystem).Version"', undefined, {
        silent: true
    });
    const { stdout: name } = yield exec.getExecOutput('powershell -command "(Get-CimInstance -ClassName Win32_OperatingSystem).Caption"', undefined, {
        silent: true
    });
    return {
        name: name.trim(),
        version: version.trim()
    };
});
const getMacOsInfo = () => platform_awaiter(void 0, void 0, void 0, function* () {
    var _a, _b, _c, _d;
    const { stdout } = yield exec.getExecOutput('sw_vers', undefined, {
        silent: true
    });
    const version = (_b = (_a = stdout.match(/ProductVersion:\s*(.+)/)) === null || _a === void 0 ? void 0 : _a[1]) !== null && _b !== void 0 ? _b : '';
    const name = (_d = (_c = stdout.match(/ProductName:\s*(.+)/)) === null || _c === void 0 ? void 0 : _c[1]) !== null && _d !== void 0 ? _d : '';
    return {
        name,
        version
    };
});
const getLinuxInfo = () => platform_awaiter(void 0, void 0, void 0, function* () {
    const { stdout } = yield exec.getExecOutput('lsb_release', ['-i', '-r', '-s'], {
        silent: true
    });
    const [name, version] = stdout.trim().split('\n');
    return {
        name,
        version
    };
});
const platform = external_os_namespaceObject.platform();
const arch = external_os_namespaceObject.arch();
const isWindows = platform === 'win32';
const isMacOS = platform === 'darwin';
const isLinux = platform === 'linux';
function getDetails() {
    return platform_awaiter(this, void 0, void 0, function* () {
        return Object.assign(Object.assign({}, (yield (isWindows
            ? getWindowsInfo()
            : isMacOS
                ? getMacOsInfo()
                : getLinuxInfo()))), { platform,
            arch,
            isWindows,
            isMacOS,
            isLinux });
    });
}
//# sourceMappingURL=platform.js.map
;// CONCATENATED MODULE: ./node_modules/@actions/core/lib/core.js
var core_awaiter = (undefined && undefined.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};





/**
 * The code to exit an action
 */
var ExitCode;
(function (ExitCode) {
    /**
     * A code indicating that the action was successful
     */
    ExitCode[ExitCode["Success"] = 0] = "Success";
    /**
     * A code indicating that the action was a failure
     */
    ExitCode[ExitCode["Failure"] = 1] = "Failure";
})(ExitCode || (ExitCode = {}));
//-----------------------------------------------------------------------
// Variables
//-----------------------------------------------------------------------
/**
 * Sets env variable for this action and future actions in the job
 * @param name the name of the variable to set
 * @param val the value of the variable. Non-string values will be converted to a string via JSON.stringify
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function exportVariable(name, val) {
    const convertedVal = toCommandValue(val);
    process.env[name] = convertedVal;
    const filePath = process.env['GITHUB_ENV'] || '';
    if (filePath) {
        return issueFileCommand('ENV', prepareKeyValueMessage(name, val));
    }
    issueCommand('set-env', { name }, convertedVal);
}
/**
 * Registers a secret which will get masked from logs
 *
 * @param secret - Value of the secret to be masked
 * @remarks
 * This function instructs the Actions runner to mask the specified value in any
 * logs produced during the workflow run. Once registered, the secret value will
 * be replaced with asterisks (***) whenever it appears in console output, logs,
 * or error messages.
 *
 * This is useful for protecting sensitive information such as:
 * - API keys
 * - Access tokens
 * - Authentication credentials
 * - URL parameters containing signatures (SAS tokens)
 *
 * Note that masking only affects future logs; any previous appearances of the
 * secret in logs before calling this function will remain unmasked.
 *
 * @example
 * ```typescript
 * // Register an API token as a secret
 * const apiToken = "abc123xyz456";
 * setSecret(apiToken);
 *
 * // Now any logs containing this value will show *** instead
 * console.log(`Using token: ${apiToken}`); // Outputs: "Using token: ***"
 * ```
 */
function setSecret(secret) {
    command_issueCommand('add-mask', {}, secret);
}
/**
 * Prepends inputPath to the PATH (for this action and future actions)
 * @param inputPath
 */
function addPath(inputPath) {
    const filePath = process.env['GITHUB_PATH'] || '';
    if (filePath) {
        issueFileCommand('PATH', inputPath);
    }
    else {
        issueCommand('add-path', {}, inputPath);
    }
    process.env['PATH'] = `${inputPath}${path.delimiter}${process.env['PATH']}`;
}
/**
 * Gets the value of an input.
 * Unless trimWhitespace is set to false in InputOptions, the value is also trimmed.
 * Returns an empty string if the value is not defined.
 *
 * @param     name     name of the input to get
 * @param     options  optional. See InputOptions.
 * @returns   string
 */
function getInput(name, options) {
    const val = process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '';
    if (options && options.required && !val) {
        throw new Error(`Input required and not supplied: ${name}`);
    }
    if (options && options.trimWhitespace === false) {
        return val;
    }
    return val.trim();
}
/**
 * Gets the values of an multiline input.  Each value is also trimmed.
 *
 * @param     name     name of the input to get
 * @param     options  optional. See InputOptions.
 * @returns   string[]
 *
 */
function getMultilineInput(name, options) {
    const inputs = getInput(name, options)
        .split('\n')
        .filter(x => x !== '');
    if (options && options.trimWhitespace === false) {
        return inputs;
    }
    return inputs.map(input => input.trim());
}
/**
 * Gets the input value of the boolean type in the YAML 1.2 "core schema" specification.
 * Support boolean input list: `true | True | TRUE | false | False | FALSE` .
 * The return value is also in boolean type.
 * ref: https://yaml.org/spec/1.2/spec.html#id2804923
 *
 * @param     name     name of the input to get
 * @param     options  optional. See InputOptions.
 * @returns   boolean
 */
function getBooleanInput(name, options) {
    const trueValue = ['true', 'True', 'TRUE'];
    const falseValue = ['false', 'False', 'FALSE'];
    const val = getInput(name, options);
    if (trueValue.includes(val))
        return true;
    if (falseValue.includes(val))
        return false;
    throw new TypeError(`Input does not meet YAML 1.2 "Core Schema" specification: ${name}\n` +
        `Support boolean input list: \`true | True | TRUE | false | False | FALSE\``);
}
/**
 * Sets the value of an output.
 *
 * @param     name     name of the output to set
 * @param     value    value to store. Non-string values will be converted to a string via JSON.stringify
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function setOutput(name, value) {
    const filePath = process.env['GITHUB_OUTPUT'] || '';
    if (filePath) {
        return file_command_issueFileCommand('OUTPUT', file_command_prepareKeyValueMessage(name, value));
    }
    process.stdout.write(external_os_namespaceObject.EOL);
    command_issueCommand('set-output', { name }, utils_toCommandValue(value));
}
/**
 * Enables or disables the echoing of commands into stdout for the rest of the step.
 * Echoing is disabled by default if ACTIONS_STEP_DEBUG is not set.
 *
 */
function setCommandEcho(enabled) {
    issue('echo', enabled ? 'on' : 'off');
}
//-----------------------------------------------------------------------
// Results
//-----------------------------------------------------------------------
/**
 * Sets the action status to failed.
 * When the action exits it will be with an exit code of 1
 * @param message add error issue message
 */
function setFailed(message) {
    process.exitCode = ExitCode.Failure;
    error(message);
}
//-----------------------------------------------------------------------
// Logging Commands
//-----------------------------------------------------------------------
/**
 * Gets whether Actions Step Debug is on or not
 */
function isDebug() {
    return process.env['RUNNER_DEBUG'] === '1';
}
/**
 * Writes debug message to user log
 * @param message debug message
 */
function debug(message) {
    command_issueCommand('debug', {}, message);
}
/**
 * Adds an error issue
 * @param message error issue message. Errors will be converted to string via toString()
 * @param properties optional properties to add to the annotation.
 */
function error(message, properties = {}) {
    command_issueCommand('error', toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}
/**
 * Adds a warning issue
 * @param message warning issue message. Errors will be converted to string via toString()
 * @param properties optional properties to add to the annotation.
 */
function warning(message, properties = {}) {
    command_issueCommand('warning', toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}
/**
 * Adds a notice issue
 * @param message notice issue message. Errors will be converted to string via toString()
 * @param properties optional properties to add to the annotation.
 */
function notice(message, properties = {}) {
    command_issueCommand('notice', toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}
/**
 * Writes info to log with console.log.
 * @param message info message
 */
function info(message) {
    process.stdout.write(message + external_os_namespaceObject.EOL);
}
/**
 * Begin an output group.
 *
 * Output until the next `groupEnd` will be foldable in this group
 *
 * @param name The name of the output group
 */
function startGroup(name) {
    command_issue('group', name);
}
/**
 * End an output group.
 */
function endGroup() {
    command_issue('endgroup');
}
/**
 * Wrap an asynchronous function call in a group.
 *
 * Returns the same type as the function itself.
 *
 * @param name The name of the group
 * @param fn The function to wrap in the group
 */
function group(name, fn) {
    return core_awaiter(this, void 0, void 0, function* () {
        startGroup(name);
        let result;
        try {
            result = yield fn();
        }
        finally {
            endGroup();
        }
        return result;
    });
}
//-----------------------------------------------------------------------
// Wrapper action state
//-----------------------------------------------------------------------
/**
 * Saves state for current action, the state can only be retrieved by this action's post job execution.
 *
 * @param     name     name of the state to store
 * @param     value    value to store. Non-string values will be converted to a string via JSON.stringify
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function saveState(name, value) {
    const filePath = process.env['GITHUB_STATE'] || '';
    if (filePath) {
        return issueFileCommand('STATE', prepareKeyValueMessage(name, value));
    }
    issueCommand('save-state', { name }, toCommandValue(value));
}
/**
 * Gets the value of an state set by this action's main execution.
 *
 * @param     name     name of the state to get
 * @returns   string
 */
function getState(name) {
    return process.env[`STATE_${name}`] || '';
}
function getIDToken(aud) {
    return core_awaiter(this, void 0, void 0, function* () {
        // Loaded on first use: its HTTP client (undici) costs every action ~30 ms at startup, and few ask for a token.
        const { OidcClient } = yield __nccwpck_require__.e(/* import() */ 936).then(__nccwpck_require__.bind(__nccwpck_require__, 3936));
        return yield OidcClient.getIDToken(aud);
    });
}
/**
 * Summary exports
 */

/**
 * @deprecated use core.summary
 */

/**
 * Path exports
 */

/**
 * Platform utilities exports
 */

//# sourceMappingURL=core.js.map

/***/ })

/******/ });
/************************************************************************/
/******/ // The module cache
/******/ var __webpack_module_cache__ = {};
/******/ 
/******/ // The require function
/******/ function __nccwpck_require__(moduleId) {
/******/ 	// Check if module is in cache
/******/ 	var cachedModule = __webpack_module_cache__[moduleId];
/******/ 	if (cachedModule !== undefined) {
/******/ 		return cachedModule.exports;
/******/ 	}
/******/ 	// Create a new module (and put it into the cache)
/******/ 	var module = __webpack_module_cache__[moduleId] = {
/******/ 		// no module.id needed
/******/ 		// no module.loaded needed
/******/ 		exports: {}
/******/ 	};
/******/ 
/******/ 	// Execute the module function
/******/ 	var threw = true;
/******/ 	try {
/******/ 		__webpack_modules__[moduleId](module, module.exports, __nccwpck_require__);
/******/ 		threw = false;
/******/ 	} finally {
/******/ 		if(threw) delete __webpack_module_cache__[moduleId];
/******/ 	}
/******/ 
/******/ 	// Return the exports of the module
/******/ 	return module.exports;
/******/ }
/******/ 
/******/ // expose the modules object (__webpack_modules__)
/******/ __nccwpck_require__.m = __webpack_modules__;
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/asset-relocator-loader */
/******/ if (typeof __nccwpck_require__ !== 'undefined') __nccwpck_require__.ab = decodeURIComponent(new URL('.', import.meta.url).pathname).slice(import.meta.url.match(/^file:\/\/\/\w:/) ? 1 : 0, -1) + "/";
/******/ 
/******/ /* webpack/runtime/async module */
/******/ (() => {
/******/ 	var webpackQueues = typeof Symbol === "function" ? Symbol("webpack queues") : "__webpack_queues__";
/******/ 	var webpackExports = typeof Symbol === "function" ? Symbol("webpack exports") : "__webpack_exports__";
/******/ 	var webpackError = typeof Symbol === "function" ? Symbol("webpack error") : "__webpack_error__";
/******/ 	var resolveQueue = (queue) => {
/******/ 		if(queue && queue.d < 1) {
/******/ 			queue.d = 1;
/******/ 			queue.forEach((fn) => (fn.r--));
/******/ 			queue.forEach((fn) => (fn.r-- ? fn.r++ : fn()));
/******/ 		}
/******/ 	}
/******/ 	var wrapDeps = (deps) => (deps.map((dep) => {
/******/ 		if(dep !== null && typeof dep === "object") {
/******/ 			if(dep[webpackQueues]) return dep;
/******/ 			if(dep.then) {
/******/ 				var queue = [];
/******/ 				queue.d = 0;
/******/ 				dep.then((r) => {
/******/ 					obj[webpackExports] = r;
/******/ 					resolveQueue(queue);
/******/ 				}, (e) => {
/******/ 					obj[webpackError] = e;
/******/ 					resolveQueue(queue);
/******/ 				});
/******/ 				var obj = {};
/******/ 				obj[webpackQueues] = (fn) => (fn(queue));
/******/ 				return obj;
/******/ 			}
/******/ 		}
/******/ 		var ret = {};
/******/ 		ret[webpackQueues] = x => {};
/******/ 		ret[webpackExports] = dep;
/******/ 		return ret;
/******/ 	}));
/******/ 	__nccwpck_require__.a = (module, body, hasAwait) => {
/******/ 		var queue;
/******/ 		hasAwait && ((queue = []).d = -1);
/******/ 		var depQueues = new Set();
/******/ 		var exports = module.exports;
/******/ 		var currentDeps;
/******/ 		var outerResolve;
/******/ 		var reject;
/******/ 		var promise = new Promise((resolve, rej) => {
/******/ 			reject = rej;
/******/ 			outerResolve = resolve;
/******/ 		});
/******/ 		promise[webpackExports] = exports;
/******/ 		promise[webpackQueues] = (fn) => (queue && fn(queue), depQueues.forEach(fn), promise["catch"](x => {}));
/******/ 		module.exports = promise;
/******/ 		body((deps) => {
/******/ 			currentDeps = wrapDeps(deps);
/******/ 			var fn;
/******/ 			var getResult = () => (currentDeps.map((d) => {
/******/ 				if(d[webpackError]) throw d[webpackError];
/******/ 				return d[webpackExports];
/******/ 			}))
/******/ 			var promise = new Promise((resolve) => {
/******/ 				fn = () => (resolve(getResult));
/******/ 				fn.r = 0;
/******/ 				var fnQueue = (q) => (q !== queue && !depQueues.has(q) && (depQueues.add(q), q && !q.d && (fn.r++, q.push(fn))));
/******/ 				currentDeps.map((dep) => (dep[webpackQueues](fnQueue)));
/******/ 			});
/******/ 			return fn.r ? promise : getResult();
/******/ 		}, (err) => ((err ? reject(promise[webpackError] = err) : outerResolve(exports)), resolveQueue(queue)));
/******/ 		queue && queue.d < 0 && (queue.d = 0);
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/create fake namespace object */
/******/ (() => {
/******/ 	var getProto = Object.getPrototypeOf ? (obj) => (Object.getPrototypeOf(obj)) : (obj) => (obj.__proto__);
/******/ 	var leafPrototypes;
/******/ 	// create a fake namespace object
/******/ 	// mode & 1: value is a module id, require it
/******/ 	// mode & 2: merge all properties of value into the ns
/******/ 	// mode & 4: return value when already ns object
/******/ 	// mode & 16: return value when it's Promise-like
/******/ 	// mode & 8|1: behave like require
/******/ 	__nccwpck_require__.t = function(value, mode) {
/******/ 		if(mode & 1) value = this(value);
/******/ 		if(mode & 8) return value;
/******/ 		if(typeof value === 'object' && value) {
/******/ 			if((mode & 4) && value.__esModule) return value;
/******/ 			if((mode & 16) && typeof value.then === 'function') return value;
/******/ 		}
/******/ 		var ns = Object.create(null);
/******/ 		__nccwpck_require__.r(ns);
/******/ 		var def = {};
/******/ 		leafPrototypes = leafPrototypes || [null, getProto({}), getProto([]), getProto(getProto)];
/******/ 		for(var current = mode & 2 && value; typeof current == 'object' && !~leafPrototypes.indexOf(current); current = getProto(current)) {
/******/ 			Object.getOwnPropertyNames(current).forEach((key) => (def[key] = () => (value[key])));
/******/ 		}
/******/ 		def['default'] = () => (value);
/******/ 		__nccwpck_require__.d(ns, def);
/******/ 		return ns;
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/ensure chunk */
/******/ (() => {
/******/ 	__nccwpck_require__.f = {};
/******/ 	// This file contains only the entry chunk.
/******/ 	// The chunk loading function for additional chunks
/******/ 	__nccwpck_require__.e = (chunkId) => {
/******/ 		return Promise.all(Object.keys(__nccwpck_require__.f).reduce((promises, key) => {
/******/ 			__nccwpck_require__.f[key](chunkId, promises);
/******/ 			return promises;
/******/ 		}, []));
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/get javascript chunk filename */
/******/ (() => {
/******/ 	// This function allow to reference async chunks
/******/ 	__nccwpck_require__.u = (chunkId) => {
/******/ 		// return url for filenames based on template
/******/ 		return "" + chunkId + ".index.js";
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/******/ /* webpack/runtime/make namespace object */
/******/ (() => {
/******/ 	// define __esModule on exports
/******/ 	__nccwpck_require__.r = (exports) => {
/******/ 		if(typeof Symbol !== 'undefined' && Symbol.toStringTag) {
/******/ 			Object.defineProperty(exports, Symbol.toStringTag, { value: 'Module' });
/******/ 		}
/******/ 		Object.defineProperty(exports, '__esModule', { value: true });
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/import chunk loading */
/******/ (() => {
/******/ 	// no baseURI
/******/ 	
/******/ 	// object to store loaded and loading chunks
/******/ 	// undefined = chunk not loaded, null = chunk preloaded/prefetched
/******/ 	// [resolve, Promise] = chunk loading, 0 = chunk loaded
/******/ 	var installedChunks = {
/******/ 		792: 0
/******/ 	};
/******/ 	
/******/ 	var installChunk = (data) => {
/******/ 		var {ids, modules, runtime} = data;
/******/ 		// add "modules" to the modules object,
/******/ 		// then flag all "ids" as loaded and fire callback
/******/ 		var moduleId, chunkId, i = 0;
/******/ 		for(moduleId in modules) {
/******/ 			if(__nccwpck_require__.o(modules, moduleId)) {
/******/ 				__nccwpck_require__.m[moduleId] = modules[moduleId];
/******/ 			}
/******/ 		}
/******/ 		if(runtime) runtime(__nccwpck_require__);
/******/ 		for(;i < ids.length; i++) {
/******/ 			chunkId = ids[i];
/******/ 			if(__nccwpck_require__.o(installedChunks, chunkId) && installedChunks[chunkId]) {
/******/ 				installedChunks[chunkId][0]();
/******/ 			}
/******/ 			installedChunks[ids[i]] = 0;
/******/ 		}
/******/ 	
/******/ 	}
/******/ 	
/******/ 	__nccwpck_require__.f.j = (chunkId, promises) => {
/******/ 			// import() chunk loading for javascript
/******/ 			var installedChunkData = __nccwpck_require__.o(installedChunks, chunkId) ? installedChunks[chunkId] : undefined;
/******/ 			if(installedChunkData !== 0) { // 0 means "already installed".
/******/ 	
/******/ 				// a Promise means "currently loading".
/******/ 				if(installedChunkData) {
/******/ 					promises.push(installedChunkData[1]);
/******/ 				} else {
/******/ 					if(true) { // all chunks have JS
/******/ 						// setup Promise in chunk cache
/******/ 						var promise = import("./" + __nccwpck_require__.u(chunkId)).then(installChunk, (e) => {
/******/ 							if(installedChunks[chunkId] !== 0) installedChunks[chunkId] = undefined;
/******/ 							throw e;
/******/ 						});
/******/ 						var promise = Promise.race([promise, new Promise((resolve) => (installedChunkData = installedChunks[chunkId] = [resolve]))])
/******/ 						promises.push(installedChunkData[1] = promise);
/******/ 					}
/******/ 				}
/******/ 			}
/******/ 	};
/******/ 	
/******/ 	// no prefetching
/******/ 	
/******/ 	// no preloaded
/******/ 	
/******/ 	// no external install chunk
/******/ 	
/******/ 	// no on chunks loaded
/******/ })();
/******/ 
/************************************************************************/
/******/ 
/******/ // startup
/******/ // Load entry module and return exports
/******/ // This entry module used 'module' so it can't be inlined
/******/ var __webpack_exports__ = __nccwpck_require__(6394);
/******/ __webpack_exports__ = await __webpack_exports__;
/******/ 
