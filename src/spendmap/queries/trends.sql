-- trends: per council and year, the grant profile beside its CRA allocation (GBP, and per head of the population the allocation used), and the change in awards and GBP from the council's previous year in the run (NULL for its first year).
-- Tables: place_summary (la_code, la_name, fy, n_schemes, n_recipients, n_awards, total_gbp, share_small), cra (la_code, fy, allocated_gbp, population).
WITH cra_by_council AS (
    SELECT la_code, fy, fsum(allocated_gbp) AS cra_allocated_gbp, max(population) AS population
    FROM cra
    GROUP BY la_code, fy
)
SELECT
    p.la_code, p.la_name, p.fy, p.n_schemes, p.n_recipients, p.n_awards, p.total_gbp, p.share_small,
    c.cra_allocated_gbp,
    c.cra_allocated_gbp / c.population AS cra_per_head_gbp,
    (p.n_awards - lag(p.n_awards) OVER by_council)::DOUBLE AS change_n_awards,
    p.total_gbp - lag(p.total_gbp) OVER by_council AS change_total_gbp
FROM place_summary p
LEFT JOIN cra_by_council c ON c.la_code = p.la_code AND c.fy = p.fy
WINDOW by_council AS (PARTITION BY p.la_code ORDER BY p.fy)
ORDER BY p.la_code, p.fy
