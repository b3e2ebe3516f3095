-- award_flags: the awards placed in a council and year, each with its amount (GBP; missing counts as 0) and the small-award test's flags: is_zero, is_negative, redacted, and tested (in the small test: never a negative award; zero-value and redacted ones only when included).
-- A table macro over the table `awards`, used as FROM award_flags($include_zero, $include_redacted) by the queries that say "Uses: award_flags".
CREATE TEMP MACRO award_flags(include_zero, include_redacted) AS TABLE
SELECT *,
    NOT is_negative AND (include_zero OR NOT is_zero) AND (include_redacted OR NOT redacted) AS tested
FROM (
    SELECT *,
        coalesce(TRY_CAST(amount_gbp AS DOUBLE), 0.0) AS amount,
        coalesce(TRY_CAST(amount_gbp AS DOUBLE), 0.0) = 0.0 AS is_zero,
        coalesce(TRY_CAST(amount_gbp AS DOUBLE) < 0, false) AS is_negative,
        coalesce(is_redacted, false) AS redacted
    FROM awards
    WHERE la_code IS NOT NULL AND fy IS NOT NULL
)
