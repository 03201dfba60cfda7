-- Reserved: migration number held for a sibling branch of issue 17 (the lead
-- replaces this file with that branch's migration, or drops the reservation).
SELECT 1;
