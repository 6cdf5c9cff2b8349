-- How a patient is related to the person writing from a shared phone
-- ("ma fille"), recorded when a booking is made for a relative.
ALTER TABLE patient_phones ADD COLUMN relation TEXT;
