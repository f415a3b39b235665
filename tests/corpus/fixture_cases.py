"""Fixtures shipped in config/fixtures for the example directory in
config/directory.toml: a positive and a near-miss for every default rule.
Run: python3 generate.py fixture_cases ../../config/fixtures ../../config/directory.toml"""

D = "example-tc.gov.uk"
CLARA = ("Clara Hughes", f"clerk@{D}")
DAFYDD = ("Dafydd Rees", f"deputy.clerk@{D}")
ALEX = ("Alex Green", f"alex.green@{D}")
PRIYA = ("Priya Shah", f"priya.shah@{D}")
JANE = ("Jane Smith", f"cllr.smith@{D}")
JANE_G = ("Jane Smith", "janesmith@gmail.com")
TOM = ("Tom Baker", f"cllr.baker@{D}")
SIAN = ("Siân Llewellyn", f"cllr.llewellyn@{D}")
MARK = ("Mark Patel", f"cllr.patel@{D}")
RUTH = ("Ruth Okafor", f"cllr.okafor@{D}")
PAPER = ("News desk", "news@localpaper.co.uk")
RESIDENT = ("Pat Evans", "pat.evans@example.org")
SUPPLIER = ("Oak Joinery", "sales@oakjoinery.example")
ELECTION = "2027-04-14T10:00:00+01:00"

CASES = [
dict(id="silent-copy", from_=CLARA, to=[JANE], bcc=[SIAN], subject="Precept figures",
     body="Dear Jane,\n\nThe precept figures are attached.\n\nClara", rules=[], note="BCC councillor named at the foot"),
dict(id="silent-copy-circular", from_=CLARA, to=[CLARA], bcc=[JANE, TOM, SIAN], subject="Agenda",
     body="Dear Councillors,\n\nThe agenda is attached.\n\nClara", rules=[], note="a circular to councillors all in BCC is normal"),
dict(id="route-via-proper-officer", from_=TOM, to=[PRIYA], subject="Thanks",
     body="Hi Priya,\n\nThanks for the hall figures.\n\nTom", rules=[], note="copy the Proper Officer and the manager"),
dict(id="route-exempted", from_=JANE, to=[ALEX], cc=[DAFYDD], subject="Allotments: plot 7",
     body="Alex, thanks for the update on plot 7.\n\nJane", rules=[], note="exemption for Jane and Alex on allotments"),
dict(id="keep-manager-informed", from_=RUTH, to=[ALEX], cc=[CLARA], subject="Bench",
     body="Hi Alex, thanks for fixing the bench.\n\nRuth", rules=[], note="Alex's manager is the deputy"),
dict(id="manager-copied", from_=RUTH, to=[ALEX], cc=[CLARA, DAFYDD], subject="Bench",
     body="Hi Alex, thanks for fixing the bench.\n\nRuth", rules=[], note="manager copied: nothing to add"),
dict(id="instruction-to-staff", from_=MARK, to=[ALEX], cc=[CLARA, DAFYDD], subject="Pavilion",
     body="Alex,\n\nCould you repaint the pavilion doors before the fete on Saturday?\n\nMark",
     rules=["instruction-to-staff"], note="polite request for work"),
dict(id="information-request", from_=MARK, to=[ALEX], cc=[CLARA, DAFYDD], subject="Pavilion",
     body="Alex,\n\nCould you let me know when the pavilion doors were last painted? I need it for Thursday.\n\nMark",
     rules=[], note="information, even with a deadline"),
dict(id="party-political-work", from_=TOM, to=[CLARA], subject="Leaflets",
     body="Clara,\n\nCould you print 200 copies of our Labour group leaflet on the office printer?\n\nTom",
     rules=["party-political-work"], note="party leaflets"),
dict(id="political-rules-advice", from_=TOM, to=[CLARA], subject="Leaflets",
     body="Clara,\n\nAm I allowed to mention the new play area in my election leaflet?\n\nTom",
     rules=[], note="asking what the rules allow"),
dict(id="undue-pressure", from_=JANE, to=[CLARA], subject="Report",
     body="Clara,\n\nI expect the recommendation in your report to be changed before Tuesday.\n\nJane",
     rules=["undue-pressure"], note="pressing to change a recommendation"),
dict(id="professional-disagreement", from_=JANE, to=[CLARA], subject="Report",
     body="Clara,\n\nI disagree with the recommendation and will move an amendment at committee.\n\nJane",
     rules=[], note="the proper route"),
dict(id="criticism-not-private", from_=TOM, to=[RESIDENT], subject="Re: the hall",
     body="Dear Pat,\n\nOur clerk has been hopeless about the hall bookings.\n\nTom",
     rules=["criticism-not-private"], note="criticism of the clerk to a resident"),
dict(id="criticism-private", from_=TOM, to=[CLARA], cc=[JANE], subject="Hall bookings",
     body="Clara,\n\nI'm concerned there were mistakes in the hall bookings; could we talk with Jane as chair?\n\nTom",
     rules=[], note="raised privately"),
dict(id="confidential-to-third-party", from_=DAFYDD, to=[SIAN, RESIDENT], subject="CONFIDENTIAL: boundary dispute",
     body="Dear Siân and Mr Evans,\n\nThe plan is attached.\n\nDafydd", rules=["confidential-to-third-party"], note="marked, external recipient"),
dict(id="disclaimer-only", from_=DAFYDD, to=[RESIDENT], subject="Your application",
     body="Dear Mr Evans,\n\nYou are third on the list.\n\nDafydd", disclaimer=True, rules=[], note="a footer disclaimer is no marking"),
dict(id="councillor-commitment", from_=SIAN, to=[SUPPLIER], subject="Re: Quote for benches",
     body="Dear Oak Joinery,\n\nWe accept your quote of £1,200 and you can start work next week.\n\nSiân", rules=["councillor-commitment"], note="accepting a quote"),
dict(id="commitment-deferred", from_=SIAN, to=[SUPPLIER], cc=[CLARA], subject="Re: Quote for benches",
     body="Dear Oak Joinery,\n\nThank you. I've passed your quote to the clerk, who will confirm after the committee meets.\n\nSiân", rules=[], note="deferring to the clerk"),
dict(id="press-contact", from_=JANE, to=[PAPER], subject="Fete",
     body="Hello,\n\nThe fete is on Saturday from 2pm.\n\nJane", rules=[], note="councillor to the press"),
dict(id="officer-to-press", from_=CLARA, to=[PAPER], subject="Meeting dates",
     body="Hello,\n\nNext year's meeting dates are attached.\n\nClara", rules=[], note="an officer writing to the press"),
dict(id="staffing-matters", from_=RUTH, to=[PRIYA], subject="Caretaker",
     body="Priya,\n\nI've had a complaint about the caretaker's timekeeping - he was late opening the hall again.\n\nRuth",
     rules=["staffing-matters"], note="redirected to the Proper Officer"),
dict(id="staffing-other-sense", from_=RUTH, to=[PRIYA], cc=[CLARA], subject="Boiler",
     body="Priya,\n\nHow has the performance of the new boiler been since it was serviced?\n\nRuth", rules=[], note="performance of a boiler"),
dict(id="employment-lobbying", from_=ALEX, to=[JANE], subject="Bench",
     body="Jane, the bench is fixed.\n\nPS I hope you'll support my regrading at the staffing committee.\n\nAlex",
     rules=["employment-lobbying"], note="own regrading as a postscript"),
dict(id="routine-officer-mail", from_=ALEX, to=[JANE], subject="Bench",
     body="Jane, the bench by the pond is fixed.\n\nAlex", rules=[], note="routine"),
dict(id="pre-election-publicity", from_=MARK, to=[CLARA], subject="Play area",
     body="Clara,\n\nCould we put out a press release about the new play area with a photo of me?\n\nMark",
     at=ELECTION, rules=["pre-election-publicity"], note="in the pre-election period"),
dict(id="publicity-outside-period", from_=MARK, to=[CLARA], subject="Play area",
     body="Clara,\n\nCould we put out a press release about the new play area with a photo of me?\n\nMark",
     at="2027-06-01T10:00:00+01:00", rules=[], note="after the election"),
]

for c in CASES:
    c["from"] = c.pop("from_")
