-- placement_ladder: each award's council from the first rung of the ladder that names one (the recipient is a council, a council-level location code, the recipient's postcode, its postcode sector, the recipient's postcode from its other awards), with that council's name, region and county; an award whose first council named is not a current council, or that no rung places, is unresolved.
-- Tables: rungs (position, council_match, geo_code, postcode, postcode_sector, recipient_postcode: each a current council code or NULL), councils (la_code, la_name, region_code, county_code; one row per council).
WITH first_rung AS (
    SELECT
        position,
        coalesce(council_match, geo_code, postcode, postcode_sector, recipient_postcode) AS candidate,
        CASE
            WHEN council_match IS NOT NULL THEN 'council_match'
            WHEN geo_code IS NOT NULL THEN 'geo_code'
            WHEN postcode IS NOT NULL THEN 'postcode'
            WHEN postcode_sector IS NOT NULL THEN 'postcode_sector'
            WHEN recipient_postcode IS NOT NULL THEN 'recipient_postcode'
        END AS rung
    FROM rungs
)
SELECT
    c.la_code, c.la_name, c.region_code, c.county_code,
    CASE WHEN c.la_code IS NULL THEN 'unresolved' ELSE f.rung END AS geo_method
FROM first_rung f
LEFT JOIN councils c ON c.la_code = f.candidate
ORDER BY f.position
